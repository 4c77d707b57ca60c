import { expect } from "vitest";
import { fromHex, ProtocolError, toHex } from "../../../src/protocol/index.js";

/** Joins hex pieces (spaces allowed) and zero-pads to `size` bytes when given. */
export function hex(pieces: string | readonly string[], size?: number): string {
  const joined = (typeof pieces === "string" ? pieces : pieces.join("")).replace(/\s+/g, "");
  return size === undefined ? joined : joined.padEnd(size * 2, "0");
}

export function bytesOf(pieces: string | readonly string[], size?: number): Uint8Array {
  return fromHex(hex(pieces, size));
}

export function hexOf(bytes: Uint8Array): string {
  return toHex(bytes);
}

/** Runs `action` and returns the ProtocolError code it throws; fails the test for any other outcome. */
export function protocolErrorCode(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return (error as ProtocolError).code;
  }
  throw new Error("expected a ProtocolError, but nothing was thrown");
}

import { BORROW_STATES, type BorrowState, MAX_CLIENT_BYTES } from "../vocabulary/index.js";
import { LedgerInvalidInputError } from "./errors.js";
import { OP_KINDS, OP_OUTCOMES, type OpKind, type OpOutcome } from "./types.js";

const LOWER_HEX = /^[0-9a-f]*$/;

export function requireHex(name: string, value: unknown, bytes: number): string {
  if (typeof value !== "string" || value.length !== bytes * 2 || !LOWER_HEX.test(value)) {
    throw new LedgerInvalidInputError(`${name} must be ${bytes} bytes of lower-case hex, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function requireInteger(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new LedgerInvalidInputError(`${name} must be a non-negative safe integer, got ${String(value)}`);
  }
  return value;
}

export function requireNullableInteger(name: string, value: unknown): number | null {
  return value === null || value === undefined ? null : requireInteger(name, value);
}

export function requireSerial(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 128) {
    throw new LedgerInvalidInputError(`serial must be a non-empty string of at most 128 characters`);
  }
  return value;
}

export function requireClient(value: unknown): string {
  if (typeof value !== "string" || Buffer.byteLength(value, "utf8") > MAX_CLIENT_BYTES) {
    throw new LedgerInvalidInputError(`client must be a string of at most ${MAX_CLIENT_BYTES} bytes of UTF-8`);
  }
  return value;
}

export function requireBorrowState(value: unknown): BorrowState {
  if (!(BORROW_STATES as readonly unknown[]).includes(value)) {
    throw new LedgerInvalidInputError(`unknown borrow state ${JSON.stringify(value)}`);
  }
  return value as BorrowState;
}

export function requireOpKind(value: unknown): OpKind {
  if (!(OP_KINDS as readonly unknown[]).includes(value)) {
    throw new LedgerInvalidInputError(`unknown op kind ${JSON.stringify(value)}`);
  }
  return value as OpKind;
}

export function requireOpOutcome(value: unknown): OpOutcome {
  if (!(OP_OUTCOMES as readonly unknown[]).includes(value)) {
    throw new LedgerInvalidInputError(`unknown op outcome ${JSON.stringify(value)}`);
  }
  return value as OpOutcome;
}

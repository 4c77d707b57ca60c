import { generateKeyPairSync, verify } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AppCommand,
  ed25519PublicKey,
  ProtocolErrorCode,
  rawPublicKey,
  Status,
  signedResponseBytes,
  signResponse,
  verifyResponse,
} from "../../../src/protocol/index.js";
import * as arb from "./arbitraries.js";
import { counting, exampleKey, examplePublicKey, RFC8032_PUBLIC } from "./fixtures.js";
import { bytesOf, hex, hexOf, protocolErrorCode } from "./hex.js";

describe("K9 signed bytes", () => {
  it("are nonce(16) | command(1) | status(1) | body", () => {
    const bytes = signedResponseBytes(counting(16, 0), AppCommand.BORROW, Status.NO_BORROWABLE, bytesOf("0102"));
    expect(hexOf(bytes)).toBe(hex([hexOf(counting(16, 0)), "03", "03", "0102"]));
  });

  it("the example key is the RFC 8032 test 1 key pair", () => {
    expect(hexOf(rawPublicKey(exampleKey))).toBe(RFC8032_PUBLIC);
  });

  it("a signature is plain Ed25519 over the signed bytes (deterministic, verifiable with any Ed25519 library)", () => {
    const nonce = counting(16, 0);
    const signature = signResponse(exampleKey, nonce, AppCommand.PING, Status.OK, bytesOf("aa"));
    expect(signature).toHaveLength(64);
    expect(signResponse(exampleKey, nonce, AppCommand.PING, Status.OK, bytesOf("aa"))).toEqual(signature);
    const signed = signedResponseBytes(nonce, AppCommand.PING, Status.OK, bytesOf("aa"));
    expect(verify(null, signed, ed25519PublicKey(examplePublicKey), signature)).toBe(true);
  });

  it("a public key that is not 32 bytes is BAD_FIELD", () => {
    expect(protocolErrorCode(() => ed25519PublicKey(new Uint8Array(31)))).toBe(ProtocolErrorCode.BAD_FIELD);
  });

  it("a signature of the wrong length is BAD_SIGNATURE", () => {
    const nonce = counting(16, 0);
    const signature = signResponse(exampleKey, nonce, AppCommand.PING, Status.OK, new Uint8Array(0));
    for (const wrong of [signature.subarray(0, 63), Uint8Array.from([...signature, 0]), new Uint8Array(0)]) {
      expect(
        protocolErrorCode(() =>
          verifyResponse(examplePublicKey, nonce, AppCommand.PING, Status.OK, new Uint8Array(0), wrong),
        ),
      ).toBe(ProtocolErrorCode.BAD_SIGNATURE);
    }
  });

  it("a response signed by another key is BAD_SIGNATURE (a counterfeit cannot answer for a pinned key)", () => {
    const other = generateKeyPairSync("ed25519").privateKey;
    const nonce = counting(16, 0);
    const signature = signResponse(other, nonce, AppCommand.GET_INFO, Status.OK, new Uint8Array(0));
    expect(
      protocolErrorCode(() =>
        verifyResponse(examplePublicKey, nonce, AppCommand.GET_INFO, Status.OK, new Uint8Array(0), signature),
      ),
    ).toBe(ProtocolErrorCode.BAD_SIGNATURE);
  });
});

describe("K9 properties", () => {
  const response = fc.record({
    nonce: arb.fixedBytes(16),
    command: arb.u8,
    status: arb.u8,
    body: fc.uint8Array({ maxLength: 300 }),
  });

  function flip(bytes: Uint8Array, bit: number): Uint8Array {
    const copy = Uint8Array.from(bytes);
    copy[bit >> 3]! ^= 1 << (bit & 7);
    return copy;
  }

  it("signatures verify", () => {
    fc.assert(
      fc.property(response, ({ nonce, command, status, body }) => {
        const signature = signResponse(exampleKey, nonce, command, status, body);
        verifyResponse(examplePublicKey, nonce, command, status, body, signature);
      }),
      { numRuns: 100 },
    );
  });

  it("any single bit flip in nonce, command, status, body or signature fails with BAD_SIGNATURE", () => {
    fc.assert(
      fc.property(
        response,
        fc.constantFrom("nonce", "command", "status", "body", "signature"),
        fc.nat(),
        ({ nonce, command, status, body }, part, position) => {
          const signature = signResponse(exampleKey, nonce, command, status, body);
          const fields = { nonce, command: Uint8Array.of(command), status: Uint8Array.of(status), body, signature };
          const target = part === "body" && body.length === 0 ? "signature" : part;
          const original = fields[target];
          const changed = { ...fields, [target]: flip(original, position % (original.length * 8)) };
          const code = protocolErrorCode(() =>
            verifyResponse(
              examplePublicKey,
              changed.nonce,
              changed.command[0]!,
              changed.status[0]!,
              changed.body,
              changed.signature,
            ),
          );
          expect(code).toBe(ProtocolErrorCode.BAD_SIGNATURE);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("every one of the 512 bit flips of one signature is refused", () => {
    const nonce = counting(16, 0);
    const body = bytesOf("0102030405");
    const signature = signResponse(exampleKey, nonce, AppCommand.SETTLE, Status.OK, body);
    for (let bit = 0; bit < 512; bit++) {
      expect(
        protocolErrorCode(() =>
          verifyResponse(examplePublicKey, nonce, AppCommand.SETTLE, Status.OK, body, flip(signature, bit)),
        ),
        `bit ${bit}`,
      ).toBe(ProtocolErrorCode.BAD_SIGNATURE);
    }
  });
});

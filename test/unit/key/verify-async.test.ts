import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyResponseAsync } from "../../../src/key/verify-async.js";
import { rawPublicKey, signResponse } from "../../../src/protocol/signature.js";

const { privateKey } = generateKeyPairSync("ed25519");
const publicKey = rawPublicKey(privateKey);
const nonce = new Uint8Array(16).fill(7);
const body = new Uint8Array([1, 2, 3, 4, 5]);
const signature = signResponse(privateKey, nonce, 0x10, 0, body);

describe("verifyResponseAsync (rule K9 on the threadpool)", () => {
  it("resolves for an answer signed by the pinned key", async () => {
    await expect(verifyResponseAsync(publicKey, nonce, 0x10, 0, body, signature)).resolves.toBeUndefined();
  });

  it("rejects with PROTOCOL_BAD_SIGNATURE when any bit of the signature or body is flipped", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: (signature.length + body.length) * 8 - 1 }), async (bit) => {
        const sig = signature.slice();
        const data = body.slice();
        const byte = bit >> 3;
        if (byte < sig.length) sig[byte]! ^= 1 << (bit & 7);
        else data[byte - sig.length]! ^= 1 << (bit & 7);
        await expect(verifyResponseAsync(publicKey, nonce, 0x10, 0, data, sig)).rejects.toMatchObject({
          code: "PROTOCOL_BAD_SIGNATURE",
        });
      }),
      { numRuns: 50 },
    );
  });

  it("rejects an answer moved to another command, status or nonce", async () => {
    const otherNonce = new Uint8Array(16).fill(8);
    // Each check starts only when it is awaited: a rejection with no handler yet would be unhandled.
    for (const attempt of [
      () => verifyResponseAsync(publicKey, nonce, 0x11, 0, body, signature),
      () => verifyResponseAsync(publicKey, nonce, 0x10, 1, body, signature),
      () => verifyResponseAsync(publicKey, otherNonce, 0x10, 0, body, signature),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: "PROTOCOL_BAD_SIGNATURE" });
    }
  });

  it("rejects a signature of the wrong length and a malformed public key with typed errors", async () => {
    await expect(verifyResponseAsync(publicKey, nonce, 0x10, 0, body, signature.slice(1))).rejects.toMatchObject({
      code: "PROTOCOL_BAD_SIGNATURE",
    });
    await expect(verifyResponseAsync(publicKey.slice(1), nonce, 0x10, 0, body, signature)).rejects.toMatchObject({
      code: "PROTOCOL_BAD_FIELD",
    });
  });
});

import { createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { NONCE_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE } from "./constants.js";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";

/**
 * Rule K9: the key signs every response with Ed25519 over
 *   request nonce (16) || command (1) || status (1) || body
 * so a response cannot be replayed for another request, moved to another command, or altered.
 */
export function signedResponseBytes(nonce: Uint8Array, command: number, status: number, body: Uint8Array): Uint8Array {
  const data = new Uint8Array(NONCE_SIZE + 2 + body.length);
  data.set(nonce, 0);
  data[NONCE_SIZE] = command;
  data[NONCE_SIZE + 1] = status;
  data.set(body, NONCE_SIZE + 2);
  return data;
}

export function signResponse(
  privateKey: KeyObject,
  nonce: Uint8Array,
  command: number,
  status: number,
  body: Uint8Array,
): Uint8Array {
  return new Uint8Array(sign(null, signedResponseBytes(nonce, command, status, body), privateKey));
}

const publicKeyCache = new Map<string, KeyObject>();

/** Turns a raw 32-byte Ed25519 public key into a KeyObject (cached: one per key). */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== PUBLIC_KEY_SIZE) {
    throw new ProtocolError(ProtocolErrorCode.BAD_FIELD, `public key of ${raw.length} bytes, expected 32`);
  }
  const x = Buffer.from(raw).toString("base64url");
  let key = publicKeyCache.get(x);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
    publicKeyCache.set(x, key);
  }
  return key;
}

/** Raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = (key.type === "private" ? createPublicKey(key) : key).export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new TypeError("not an Ed25519 key");
  return Uint8Array.from(Buffer.from(jwk.x, "base64url"));
}

export function verifyResponse(
  publicKey: Uint8Array,
  nonce: Uint8Array,
  command: number,
  status: number,
  body: Uint8Array,
  signature: Uint8Array,
): void {
  const ok =
    signature.length === SIGNATURE_SIZE &&
    verify(null, signedResponseBytes(nonce, command, status, body), ed25519PublicKey(publicKey), signature);
  if (!ok) {
    throw new ProtocolError(
      ProtocolErrorCode.BAD_SIGNATURE,
      "response signature does not verify with the key's public key",
      {
        command,
        status,
      },
    );
  }
}

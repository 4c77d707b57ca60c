import { verify } from "node:crypto";
import { SIGNATURE_SIZE } from "../protocol/constants.js";
import { ProtocolError, ProtocolErrorCode } from "../protocol/errors.js";
import { ed25519PublicKey, signedResponseBytes } from "../protocol/signature.js";

/**
 * Rule K9, checked on the libuv threadpool: while one answer's signature is verified, the main
 * thread serves other exchanges and the ledger. Resolves only when the signature verifies;
 * rejects with PROTOCOL_BAD_SIGNATURE otherwise, so a caller that awaits it never sees an
 * unverified answer.
 */
export function verifyResponseAsync(
  publicKey: Uint8Array,
  nonce: Uint8Array,
  command: number,
  status: number,
  body: Uint8Array,
  signature: Uint8Array,
): Promise<void> {
  const refused = () =>
    new ProtocolError(ProtocolErrorCode.BAD_SIGNATURE, "response signature does not verify with the key's public key", {
      command,
      status,
    });
  if (signature.length !== SIGNATURE_SIZE) return Promise.reject(refused());
  // Both lookups throw synchronously on a malformed key; inside the executor they become a rejection.
  return new Promise<void>((resolve, reject) => {
    const data = signedResponseBytes(nonce, command, status, body);
    verify(null, data, ed25519PublicKey(publicKey), signature, (error, ok) => {
      if (error !== null) {
        reject(Object.assign(refused(), { cause: error }));
      } else if (ok) resolve();
      else reject(refused());
    });
  });
}

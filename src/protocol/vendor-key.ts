import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { PUBLIC_KEY_SIZE } from "./constants.js";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";
import { rawPublicKey } from "./signature.js";

/**
 * The vendor's Ed25519 key pair as files hold it: the secret as PKCS#8 PEM (what OpenSSL and
 * every crypto library read), the public key as 64 hex digits on one line (what a key is
 * provisioned with, short enough to read out over the phone). Pure text in and out: the callers
 * write the files (the secret with mode 0600).
 */

export interface VendorKeyPair {
  readonly secret: KeyObject;
  /** Raw 32 bytes. */
  readonly publicKey: Uint8Array;
}

export function generateVendorKeyPair(): VendorKeyPair {
  const { privateKey } = generateKeyPairSync("ed25519");
  return { secret: privateKey, publicKey: rawPublicKey(privateKey) };
}

export function vendorSecretToPem(secret: KeyObject): string {
  return secret.export({ format: "pem", type: "pkcs8" }).toString();
}

/** Reads a PKCS#8 PEM secret; anything that is not an Ed25519 private key is BAD_FIELD. */
export function vendorSecretFromPem(text: string): VendorKeyPair {
  let secret: KeyObject;
  try {
    secret = createPrivateKey({ key: text, format: "pem" });
  } catch (error) {
    throw new ProtocolError(ProtocolErrorCode.BAD_FIELD, "not a PEM private key", {
      field: "vendorSecret",
      cause: String(error),
    });
  }
  if (secret.asymmetricKeyType !== "ed25519") {
    throw new ProtocolError(ProtocolErrorCode.BAD_FIELD, `a ${secret.asymmetricKeyType} key, not Ed25519`, {
      field: "vendorSecret",
    });
  }
  return { secret, publicKey: rawPublicKey(secret) };
}

export function vendorPublicKeyToText(publicKey: Uint8Array): string {
  return `${Buffer.from(publicKey).toString("hex")}\n`;
}

/** 64 hex digits (surrounding white space allowed) → raw 32 bytes; anything else is BAD_FIELD. */
export function vendorPublicKeyFromText(text: string): Uint8Array {
  const hex = text.trim().toLowerCase();
  if (!new RegExp(`^[0-9a-f]{${PUBLIC_KEY_SIZE * 2}}$`).test(hex)) {
    throw new ProtocolError(
      ProtocolErrorCode.BAD_FIELD,
      `a vendor public key is ${PUBLIC_KEY_SIZE * 2} hex digits (${PUBLIC_KEY_SIZE} bytes)`,
      { field: "vendorPublicKey" },
    );
  }
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

import type { KeyObject } from "node:crypto";
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  generateVendorKeyPair,
  type SignedLicenseUpdate,
  signLicenseUpdate,
  type UnsignedLicenseUpdate,
} from "../../src/protocol/index.js";
import { rawPublicKey } from "../../src/protocol/signature.js";

/**
 * The vendor side of the suite: what the key was provisioned with and a way to sign updates for
 * it. A real key's vendor secret is given to the HIL run by file (KEYBRIDGE_HIL_VENDOR_KEY).
 */
export interface TestVendor {
  /** Raw 32-byte public key the key under test was provisioned with. */
  readonly publicKey: Uint8Array;
  sign(update: UnsignedLicenseUpdate): SignedLicenseUpdate;
}

export function vendorOf(secret: KeyObject): TestVendor {
  return { publicKey: rawPublicKey(secret), sign: (update) => signLicenseUpdate(secret, update) };
}

/** A fresh vendor key pair for one test run. */
export function newTestVendor(): TestVendor {
  return vendorOf(generateVendorKeyPair().secret);
}

/** The vendor whose secret (PKCS#8 PEM, as `keybridge vendor keygen` writes it) is in `file`. */
export function vendorFromFile(file: string): TestVendor {
  return vendorOf(createPrivateKey({ key: readFileSync(file, "utf8"), format: "pem" }));
}

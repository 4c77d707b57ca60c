import { createPrivateKey, type KeyObject } from "node:crypto";
import { fromHex } from "../../../src/protocol/index.js";

/** RFC 8032 section 7.1, test 1: a published Ed25519 key pair, so signatures in the examples are reproducible. */
export const RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
export const RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = "302e020100300506032b657004220420";

export function ed25519FromSeed(seedHex: string): KeyObject {
  return createPrivateKey({ key: Buffer.from(ED25519_PKCS8_PREFIX + seedHex, "hex"), format: "der", type: "pkcs8" });
}

export const exampleKey = ed25519FromSeed(RFC8032_SECRET);
export const examplePublicKey = fromHex(RFC8032_PUBLIC);

/** Bytes first, first+1, ... (mod 256): recognisable in a hex dump. */
export function counting(size: number, first: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (first + i) & 0xff);
}

export function filled(size: number, value: number): Uint8Array {
  return new Uint8Array(size).fill(value);
}

/** 2026-01-01T00:00:00Z in epoch ms. */
export const EXAMPLE_TIME = 1_767_225_600_000;
export const DAY_MS = 86_400_000;
export const EXAMPLE_CID = 0x1a2b3c4d;

/** RFC 8032 section 7.1, test 2: the vendor of the worked examples (another published pair). */
export const RFC8032_VENDOR_SECRET = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
export const RFC8032_VENDOR_PUBLIC = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
export const exampleVendorKey = ed25519FromSeed(RFC8032_VENDOR_SECRET);
export const exampleVendorPublicKey = fromHex(RFC8032_VENDOR_PUBLIC);

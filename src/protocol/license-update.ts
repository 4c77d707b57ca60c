import { type KeyObject, sign, verify } from "node:crypto";
import { ByteReader, ByteWriter } from "./bytes.js";
import { MAX_LICENSES, MAX_SERIAL_BYTES, MAX_UPDATE_COUNTER, SIGNATURE_SIZE, Status } from "./constants.js";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";
import { badField, LICENSE_SIZE, readLicenseSet, writeLicenseSet } from "./licenses.js";
import { ed25519PublicKey } from "./signature.js";
import type { License, SignedLicenseUpdate, UnsignedLicenseUpdate } from "./types.js";

/**
 * Vendor-signed license updates (PROTOCOL.md section 8.11): the bytes a vendor signs, the check a
 * key makes before it applies one, and the update file a vendor hands out. Pure: no I/O; the
 * vendor's secret comes in as a KeyObject.
 */

/**
 * Prefixed to the signed bytes so that a vendor signature over anything else (another format,
 * another version of this one) can never pass for a license update.
 */
export const LICENSE_UPDATE_CONTEXT = "keybridge license update v1";
const CONTEXT_BYTES = new TextEncoder().encode(LICENSE_UPDATE_CONTEXT);

/** Largest signed update: serial (1 + 32), counter 4, count 2, 256 licenses, signature 64 = 2663 bytes. */
export const MAX_SIGNED_UPDATE_SIZE = 1 + MAX_SERIAL_BYTES + 4 + 2 + MAX_LICENSES * LICENSE_SIZE + SIGNATURE_SIZE;

function checkCounter(counter: number): void {
  if (!Number.isSafeInteger(counter) || counter < 1 || counter > MAX_UPDATE_COUNTER) {
    throw new RangeError(`update counter must be 1..${MAX_UPDATE_COUNTER}, got ${counter}`);
  }
}

function writeUnsigned(w: ByteWriter, update: UnsignedLicenseUpdate): void {
  checkCounter(update.counter);
  w.shortString(update.serial, MAX_SERIAL_BYTES).u32(update.counter);
  writeLicenseSet(w, update.licenses);
}

/** serial str8(32), counter u32, license set, signature (64). */
export function writeSignedUpdate(w: ByteWriter, update: SignedLicenseUpdate): void {
  writeUnsigned(w, update);
  w.bytes(update.signature, SIGNATURE_SIZE);
}

export function readSignedUpdate(r: ByteReader, what: string): SignedLicenseUpdate {
  const serial = r.shortString("serial", MAX_SERIAL_BYTES);
  const counter = r.u32("counter");
  if (counter === 0) throw badField(what, "counter", "must be 1 or more");
  const licenses = readLicenseSet(r, what);
  const signature = r.bytesOf(SIGNATURE_SIZE, "signature");
  return { serial, counter, licenses, signature };
}

/** Exactly what the vendor signs: the context text, then serial, counter and license set as on the wire. */
export function licenseUpdateSignedBytes(update: UnsignedLicenseUpdate): Uint8Array {
  const w = new ByteWriter(CONTEXT_BYTES.length + 40 + update.licenses.length * LICENSE_SIZE).bytes(CONTEXT_BYTES);
  writeUnsigned(w, update);
  return w.finish();
}

/** Signs an update with the vendor's Ed25519 secret (pure Ed25519, RFC 8032). */
export function signLicenseUpdate(vendorSecret: KeyObject, update: UnsignedLicenseUpdate): SignedLicenseUpdate {
  const signature = new Uint8Array(sign(null, licenseUpdateSignedBytes(update), vendorSecret));
  return {
    serial: update.serial,
    counter: update.counter,
    licenses: update.licenses.map((l) => ({ ...l })),
    signature,
  };
}

/** True when the signature verifies with `vendorPublicKey` (raw 32 bytes). */
export function licenseUpdateSignatureValid(update: SignedLicenseUpdate, vendorPublicKey: Uint8Array): boolean {
  if (update.signature.length !== SIGNATURE_SIZE) return false;
  let signed: Uint8Array;
  try {
    signed = licenseUpdateSignedBytes(update);
  } catch {
    // An update that cannot be encoded (a field out of range) was never signed by anyone.
    return false;
  }
  return verify(null, signed, ed25519PublicKey(vendorPublicKey), update.signature);
}

/** What a key knows when it judges an update. */
export interface KeyVendorState {
  readonly serial: string;
  /** Undefined until the key is provisioned. */
  readonly vendorPublicKey: Uint8Array | undefined;
  readonly updateCounter: number;
}

export interface LicenseUpdateRefusal {
  readonly status: Status;
  readonly reason: string;
}

/**
 * The key's verdict on a decoded update, checked in this order: provisioned, serial, signature,
 * counter. Undefined means the key applies it. A host may run the same check first, to say why
 * an update would be refused before it sends it.
 */
export function judgeLicenseUpdate(update: SignedLicenseUpdate, key: KeyVendorState): LicenseUpdateRefusal | undefined {
  if (key.vendorPublicKey === undefined) {
    return {
      status: Status.NOT_PROVISIONED,
      reason: "the key is not provisioned with a vendor key, so it takes no license update",
    };
  }
  if (update.serial !== key.serial) {
    return {
      status: Status.WRONG_SERIAL,
      reason: `the update is for key ${update.serial}, not ${key.serial}`,
    };
  }
  if (!licenseUpdateSignatureValid(update, key.vendorPublicKey)) {
    return {
      status: Status.BAD_VENDOR_SIGNATURE,
      reason: "the update's signature does not verify with the key's vendor key",
    };
  }
  if (update.counter <= key.updateCounter) {
    return {
      status: Status.STALE_COUNTER,
      reason: `update counter ${update.counter} is not above the key's ${key.updateCounter} (an old or replayed update)`,
    };
  }
  return undefined;
}

// --- the update file --------------------------------------------------------------------------

/** A license update file starts with these 4 ASCII bytes, then the file format version. */
export const UPDATE_FILE_MAGIC = "KBLU";
export const UPDATE_FILE_VERSION = 1;
/** The conventional file name ending of an update file. */
export const UPDATE_FILE_EXTENSION = ".kblu";
const MAGIC_BYTES = new TextEncoder().encode(UPDATE_FILE_MAGIC);
/** Magic, version and the largest signed update. */
export const MAX_UPDATE_FILE_SIZE = MAGIC_BYTES.length + 1 + MAX_SIGNED_UPDATE_SIZE;

/** The update file: "KBLU", version 1, then the signed update exactly as SIGNED_LICENSE_UPDATE carries it. */
export function encodeLicenseUpdateFile(update: SignedLicenseUpdate): Uint8Array {
  const w = new ByteWriter(64 + update.licenses.length * LICENSE_SIZE).bytes(MAGIC_BYTES).u8(UPDATE_FILE_VERSION);
  writeSignedUpdate(w, update);
  return w.finish();
}

/**
 * Reads an update file. Throws ProtocolError: BAD_UPDATE_FILE when it is not one (magic, version,
 * size), TRUNCATED when it ends early or has bytes left over, BAD_FIELD for a value out of range.
 * The signature is not checked here (see licenseUpdateSignatureValid and judgeLicenseUpdate).
 */
export function decodeLicenseUpdateFile(bytes: Uint8Array): SignedLicenseUpdate {
  if (bytes.length > MAX_UPDATE_FILE_SIZE) {
    throw new ProtocolError(
      ProtocolErrorCode.BAD_UPDATE_FILE,
      `a license update file has at most ${MAX_UPDATE_FILE_SIZE} bytes; this one has ${bytes.length}`,
      { length: bytes.length },
    );
  }
  const what = "license update file";
  const r = new ByteReader(bytes, what);
  const magic = bytes.subarray(0, MAGIC_BYTES.length);
  if (magic.length < MAGIC_BYTES.length || magic.some((byte, i) => byte !== MAGIC_BYTES[i])) {
    throw new ProtocolError(
      ProtocolErrorCode.BAD_UPDATE_FILE,
      `not a license update file: it does not start with "${UPDATE_FILE_MAGIC}"`,
    );
  }
  r.bytesOf(MAGIC_BYTES.length, "magic");
  const version = r.u8("version");
  if (version !== UPDATE_FILE_VERSION) {
    throw new ProtocolError(
      ProtocolErrorCode.BAD_UPDATE_FILE,
      `license update file version ${version} is not known (this keybridge reads version ${UPDATE_FILE_VERSION})`,
      { version },
    );
  }
  const update = readSignedUpdate(r, what);
  r.end();
  return update;
}

/** One product whose license an update changes. */
export interface LicenseChange {
  readonly product: number;
  readonly change: "added" | "removed" | "changed";
  readonly before?: License;
  readonly after?: License;
}

/** What replacing `before` by `after` changes, by product in increasing order; unchanged products are left out. */
export function diffLicenseSets(before: readonly License[], after: readonly License[]): LicenseChange[] {
  const old = new Map(before.map((license) => [license.product, license]));
  const next = new Map(after.map((license) => [license.product, license]));
  const products = [...new Set([...old.keys(), ...next.keys()])].sort((a, b) => a - b);
  const changes: LicenseChange[] = [];
  for (const product of products) {
    const was = pick(old.get(product));
    const will = pick(next.get(product));
    if (was === undefined && will !== undefined) changes.push({ product, change: "added", after: will });
    else if (was !== undefined && will === undefined) changes.push({ product, change: "removed", before: was });
    else if (was !== undefined && will !== undefined && !sameLicense(was, will)) {
      changes.push({ product, change: "changed", before: was, after: will });
    }
  }
  return changes;
}

/** Only the license fields (a LicenseUsage carries usage counts too). */
function pick(license: License | undefined): License | undefined {
  if (license === undefined) return undefined;
  const { product, seats, borrowable, borrowDays } = license;
  return { product, seats, borrowable, borrowDays };
}

function sameLicense(a: License, b: License): boolean {
  return a.seats === b.seats && a.borrowable === b.borrowable && a.borrowDays === b.borrowDays;
}

import type { ByteReader, ByteWriter } from "./bytes.js";
import { MAX_BORROW_DAYS, MAX_LICENSES } from "./constants.js";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";
import type { License } from "./types.js";

/** A license on the wire (10 bytes): product u32, seats u16, borrowable u16, borrowDays u16. */
export const LICENSE_SIZE = 10;

export function badField(what: string, field: string, detail: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.BAD_FIELD, `${what}: ${field} ${detail}`, { field });
}

export function readLicense(r: ByteReader, what: string): License {
  const product = r.u32("product");
  const seats = r.u16("seats");
  const borrowable = r.u16("borrowable");
  const borrowDays = r.u16("borrowDays");
  if (borrowable > seats) throw badField(what, "borrowable", `(${borrowable}) exceeds seats (${seats})`);
  if (borrowDays < 1 || borrowDays > MAX_BORROW_DAYS)
    throw badField(what, "borrowDays", `must be 1..${MAX_BORROW_DAYS}`);
  return { product, seats, borrowable, borrowDays };
}

export function writeLicense(w: ByteWriter, license: License): void {
  w.u32(license.product).u16(license.seats).u16(license.borrowable).u16(license.borrowDays);
}

/** A whole license set: u16 count (at most 256), then count licenses with distinct products. */
export function readLicenseSet(r: ByteReader, what: string): License[] {
  const count = r.u16("count");
  if (count > MAX_LICENSES) throw badField(what, "count", `${count} exceeds ${MAX_LICENSES}`);
  const licenses: License[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const license = readLicense(r, what);
    if (seen.has(license.product)) throw badField(what, "product", `${license.product} appears twice`);
    seen.add(license.product);
    licenses.push(license);
  }
  return licenses;
}

export function writeLicenseSet(w: ByteWriter, licenses: readonly License[]): void {
  if (licenses.length > MAX_LICENSES) throw new RangeError(`${licenses.length} licenses exceed ${MAX_LICENSES}`);
  w.u16(licenses.length);
  for (const license of licenses) writeLicense(w, license);
}

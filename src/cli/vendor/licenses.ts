import { type License, MAX_BORROW_DAYS, MAX_LICENSES } from "../../protocol/index.js";
import { VendorError } from "./errors.js";

/**
 * The license set a vendor signs, from a JSON file (`[{product, seats, borrowable, borrowDays}]`,
 * or the same list under "licenses", as `keybridge license-update` reads it) and/or from
 * `--license PRODUCT:SEATS:BORROWABLE:DAYS` flags. Checked as the key will check it.
 */
export function licensesFromJson(text: string, source: string): License[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(`${source} is not valid JSON (${(error as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { licenses?: unknown } | null)?.licenses;
  if (!Array.isArray(list)) throw invalid(`${source} holds neither a list of licenses nor {"licenses": [...]}`);
  return list.map((entry, index) => {
    const where = `${source}: license ${index + 1}`;
    if (typeof entry !== "object" || entry === null) throw invalid(`${where} is not an object`);
    const record = entry as Record<string, unknown>;
    return {
      product: integer(record.product, `${where}: product`, 0, 0xffffffff),
      seats: integer(record.seats, `${where}: seats`, 0, 0xffff),
      borrowable: integer(record.borrowable, `${where}: borrowable`, 0, 0xffff),
      borrowDays: integer(record.borrowDays, `${where}: borrowDays`, 1, MAX_BORROW_DAYS),
    };
  });
}

/** "1001:10:4:30" → product 1001, 10 seats, 4 borrowable, 30 days. */
export function licenseFromSpec(spec: string): License {
  const parts = spec.split(":");
  if (parts.length !== 4 || parts.some((part) => !/^\d+$/.test(part))) {
    throw invalid(`--license ${spec}: write PRODUCT:SEATS:BORROWABLE:DAYS, e.g. 1001:10:4:30`);
  }
  const [product, seats, borrowable, days] = parts.map(Number) as [number, number, number, number];
  const where = `--license ${spec}`;
  return {
    product: integer(product, `${where}: product`, 0, 0xffffffff),
    seats: integer(seats, `${where}: seats`, 0, 0xffff),
    borrowable: integer(borrowable, `${where}: borrowable`, 0, 0xffff),
    borrowDays: integer(days, `${where}: days`, 1, MAX_BORROW_DAYS),
  };
}

/** The whole set as the key requires it: distinct products, borrowable ≤ seats, at most 256. */
export function checkLicenseSet(licenses: readonly License[]): License[] {
  if (licenses.length > MAX_LICENSES) throw invalid(`${licenses.length} licenses; a key holds at most ${MAX_LICENSES}`);
  const seen = new Set<number>();
  for (const license of licenses) {
    if (seen.has(license.product)) throw invalid(`product ${license.product} appears twice`);
    seen.add(license.product);
    if (license.borrowable > license.seats) {
      throw invalid(`product ${license.product}: borrowable (${license.borrowable}) exceeds seats (${license.seats})`);
    }
  }
  return licenses.map((license) => ({ ...license }));
}

function integer(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be an integer ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function invalid(message: string): VendorError {
  return new VendorError("LICENSES_INVALID", message);
}

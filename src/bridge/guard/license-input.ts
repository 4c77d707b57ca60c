import { decodeLicenseUpdateFile, ProtocolError, type SignedLicenseUpdate } from "../../protocol/index.js";
import { MAX_BORROW_DAYS, MAX_LICENSES, MAX_PRODUCT, MAX_SEATS } from "../../vocabulary/index.js";
import type { LicenseInput, LicenseUpdateInput } from "../api.js";
import { InvalidRequestError, UpdateFileInvalidError } from "../errors.js";

/**
 * A license update checked and decoded, before anything is sent: a vendor-signed update (from its
 * file), or a bare set this bridge signs on the vendor's behalf where it may (virtual mode).
 */
export type LicenseUpdatePlan =
  | { readonly signed: true; readonly update: SignedLicenseUpdate; readonly licenses: LicenseInput[] }
  | { readonly signed: false; readonly licenses: LicenseInput[] };

/** The file's bytes are decoded (not yet judged: see keyRefusal); a bare set is validated. */
export function planLicenseUpdate(input: LicenseUpdateInput | unknown): LicenseUpdatePlan {
  if (input instanceof Uint8Array) {
    let update: SignedLicenseUpdate;
    try {
      update = decodeLicenseUpdateFile(input);
    } catch (error) {
      if (error instanceof ProtocolError) throw new UpdateFileInvalidError(error.message, { cause: error });
      throw error;
    }
    return { signed: true, update, licenses: update.licenses.map((license) => ({ ...license })) };
  }
  return { signed: false, licenses: validateLicenses(input) };
}

/** The bounds are the API schema's (LicenseInputSchema): a set the server accepts, the bridge accepts. */
function isCount(value: unknown, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max;
}

/**
 * Checks a license set before it goes anywhere near the key: one license at least, products
 * unique, `borrowable` at most `seats` (a u16, as on the wire), `borrowDays` 1..MAX_BORROW_DAYS.
 * Accepts the array or the file's `{"licenses": [...]}` shape.
 */
export function validateLicenses(input: unknown): LicenseInput[] {
  const list = Array.isArray(input) ? input : (input as { licenses?: unknown } | null)?.licenses;
  if (!Array.isArray(list)) {
    throw new InvalidRequestError(
      "licenses",
      'expected {"licenses": [{"product", "seats", "borrowable", "borrowDays"}]}',
    );
  }
  if (list.length === 0) throw new InvalidRequestError("licenses", "a license set holds one license at least");
  if (list.length > MAX_LICENSES) {
    throw new InvalidRequestError("licenses", `a key holds at most ${MAX_LICENSES} licenses; got ${list.length}`);
  }
  const seen = new Set<number>();
  return list.map((entry: unknown, index) => {
    const field = (name: string) => `licenses[${index}].${name}`;
    if (typeof entry !== "object" || entry === null) {
      throw new InvalidRequestError(`licenses[${index}]`, "each license must be an object");
    }
    const { product, seats, borrowable, borrowDays } = entry as Record<string, unknown>;
    if (!isCount(product, MAX_PRODUCT)) {
      throw new InvalidRequestError(field("product"), `product must be an integer 0..${MAX_PRODUCT}`);
    }
    if (seen.has(product)) {
      throw new InvalidRequestError(field("product"), `product ${product} appears more than once`);
    }
    seen.add(product);
    if (!isCount(seats, MAX_SEATS)) {
      throw new InvalidRequestError(field("seats"), `seats must be an integer 0..${MAX_SEATS}`);
    }
    if (!isCount(borrowable, MAX_SEATS)) {
      throw new InvalidRequestError(field("borrowable"), `borrowable must be an integer 0..${MAX_SEATS}`);
    }
    if (borrowable > seats) {
      throw new InvalidRequestError(
        field("borrowable"),
        `product ${product}: borrowable (${borrowable}) may not exceed seats (${seats})`,
      );
    }
    if (!isCount(borrowDays, MAX_BORROW_DAYS) || borrowDays < 1) {
      throw new InvalidRequestError(
        field("borrowDays"),
        `borrowDays must be an integer between 1 and ${MAX_BORROW_DAYS}`,
      );
    }
    return { product, seats, borrowable, borrowDays };
  });
}

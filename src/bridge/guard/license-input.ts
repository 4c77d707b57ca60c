import { MAX_BORROW_DAYS, MAX_LICENSES } from "../../protocol/index.js";
import type { LicenseInput } from "../api.js";
import { InvalidRequestError } from "../errors.js";

const U32_MAX = 0xffff_ffff;

function isCount(value: unknown, max = U32_MAX): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max;
}

/**
 * Checks a license set before it goes anywhere near the key: products unique, `borrowable` at
 * most `seats`, `borrowDays` 1..365. Accepts the array or the file's `{"licenses": [...]}` shape.
 */
export function validateLicenses(input: unknown): LicenseInput[] {
  const list = Array.isArray(input) ? input : (input as { licenses?: unknown } | null)?.licenses;
  if (!Array.isArray(list)) {
    throw new InvalidRequestError(
      "licenses",
      'expected {"licenses": [{"product", "seats", "borrowable", "borrowDays"}]}',
    );
  }
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
    if (!isCount(product)) throw new InvalidRequestError(field("product"), "product must be an integer 0..4294967295");
    if (seen.has(product)) {
      throw new InvalidRequestError(field("product"), `product ${product} appears more than once`);
    }
    seen.add(product);
    if (!isCount(seats)) throw new InvalidRequestError(field("seats"), "seats must be a non-negative integer");
    if (!isCount(borrowable)) {
      throw new InvalidRequestError(field("borrowable"), "borrowable must be a non-negative integer");
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

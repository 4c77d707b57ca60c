import * as crypto from "node:crypto";

/**
 * Row checksums catch what SQLite's own checks cannot: a flipped bit inside a stored value
 * leaves a structurally valid page, so `integrity_check` passes while the value is wrong.
 * Each row keeps sha-256 over its fields in a fixed order; rows are verified whenever they are read.
 */
export function rowChecksum(fields: readonly unknown[]): string {
  return sha256Hex(JSON.stringify(fields));
}

/** One-shot hashing (Node >= 20.12) is about twice as fast as createHash for short inputs. */
const oneShot = typeof crypto.hash === "function" ? crypto.hash : undefined;

/** JSON with object keys sorted at every level, so equal data always hashes the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) sorted[key] = sortKeys(item);
    }
    return sorted;
  }
  return value;
}

export function sha256Hex(text: string): string {
  return oneShot ? oneShot("sha256", text, "hex") : crypto.createHash("sha256").update(text).digest("hex");
}

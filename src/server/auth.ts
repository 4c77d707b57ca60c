import { createHash, timingSafeEqual } from "node:crypto";

/** Compares in constant time; hashing first makes the lengths equal so the length leaks nothing either. */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined || given === "") return false;
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

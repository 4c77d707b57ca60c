import { createHash, timingSafeEqual } from "node:crypto";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * A checker for one token. It compares in constant time; hashing first makes the lengths equal so
 * the length leaks nothing either.
 */
export function tokenChecker(expected: string): (given: string | undefined) => boolean {
  const wanted = digest(expected);
  return (given) => given !== undefined && given !== "" && timingSafeEqual(wanted, digest(given));
}

export function tokenMatches(expected: string, given: string | undefined): boolean {
  return tokenChecker(expected)(given);
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

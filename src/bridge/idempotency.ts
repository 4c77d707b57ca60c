import { createHash, createHmac } from "node:crypto";
import type { OpRow } from "../ledger/index.js";
import { IdempotencyKeyReusedError, InvalidRequestError } from "./errors.js";

/** Longest idempotency key accepted, in characters (visible ASCII only). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const DERIVATION_CONTEXT = "keybridge-idempotency-v1\u0000";

/** The parts of a borrow request that must be the same for a retry to be one. */
export interface BorrowFingerprint {
  product: number;
  client: string;
  days: number | null;
  serial: string | null;
}

/** 1-255 visible ASCII characters (what an HTTP header carries unchanged): a UUID, a ULID, a job name. */
export function validateIdempotencyKey(key: unknown): string {
  if (typeof key !== "string" || !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new InvalidRequestError(
      "idempotencyKey",
      `the idempotency key must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters (no spaces or control characters)`,
    );
  }
  return key;
}

/**
 * The journal opId that records the key's borrow: HMAC of the key under the ledger's secret, so it
 * is the same after a restart, and no one who can read the ledger can tell which key it came from.
 */
export function idempotencyOpId(secret: Buffer, key: string): string {
  return createHmac("sha256", secret)
    .update(DERIVATION_CONTEXT + key, "utf8")
    .digest()
    .subarray(0, 16)
    .toString("hex");
}

/** What the journal keeps to tell a retry from a reuse, without the key itself. */
export function idempotencyDetails(key: string, borrowOpId: string, fingerprint: BorrowFingerprint) {
  return {
    idempotencyKeySha256: createHash("sha256").update(key, "utf8").digest("hex"),
    borrowOpId,
    request: { ...fingerprint },
  };
}

/** The borrow's opId recorded for this key, after checking the request is the same one. */
export function recordedBorrowOpId(op: OpRow, fingerprint: BorrowFingerprint): string | undefined {
  const borrowOpId = op.details.borrowOpId;
  if (typeof borrowOpId !== "string") return undefined;
  const differing = differingFields(op.details.request, fingerprint);
  if (differing.length > 0) throw new IdempotencyKeyReusedError(differing);
  return borrowOpId;
}

export function differingFields(recorded: unknown, fingerprint: BorrowFingerprint): string[] {
  const before = (recorded ?? {}) as Partial<Record<keyof BorrowFingerprint, unknown>>;
  return (Object.keys(fingerprint) as (keyof BorrowFingerprint)[]).filter(
    (field) => (before[field] ?? null) !== fingerprint[field],
  );
}

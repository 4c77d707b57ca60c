import type { BorrowRow } from "../ledger/index.js";

/**
 * The tag a ledger row (and its registry entry) holds when the real tag is lost: 16 zero bytes.
 * keybridge never chooses it for a borrow (tags are HMAC outputs; all zeros has probability
 * 2^-128), so it safely means "unknown". It is written by recovery when a key record is adopted
 * into a new ledger with no registry entry and a server secret that is not the one the tag was
 * derived from. It survives a registry restore and a later rebuild, so the borrow stays marked.
 */
export const UNKNOWN_TAG = "00".repeat(16);

export function isTagUnknown(row: Pick<BorrowRow, "tag">): boolean {
  return row.tag === UNKNOWN_TAG;
}

/** When the key turns the borrow into a dummy by itself if nobody settles it (K4), in key time. */
export function selfDummyAt(row: Pick<BorrowRow, "expiresAt">, settleWindowMs: number | undefined): number | undefined {
  return settleWindowMs === undefined ? undefined : row.expiresAt + settleWindowMs;
}

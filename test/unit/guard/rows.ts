import type { BorrowRow } from "../../../src/ledger/index.js";

export const DAY = 86_400_000;
export const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
/** The binding of "this host" in the engine tests. */
export const HERE = "aa".repeat(32);

/** An active 30-day borrow on KB-1, bound to HERE, issued at T0; `patch` changes any field. */
export function borrowRow(id: number, patch: Partial<BorrowRow> = {}): BorrowRow {
  return {
    serial: "KB-1",
    id,
    opId: id.toString(16).padStart(32, "0"),
    product: 1001,
    client: `ws-${id}`,
    issuedAt: T0,
    expiresAt: T0 + 30 * DAY,
    binding: HERE,
    tag: "02".repeat(16),
    state: "active",
    dummyUntil: null,
    settleOpId: null,
    createdAt: T0,
    updatedAt: T0,
    ...patch,
  };
}

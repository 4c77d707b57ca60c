import type { BorrowRow } from "../../ledger/index.js";
import { formatTime } from "../../reconcile/index.js";

/** How many borrows a message names before it says "and N more". */
const NAMED_LIMIT = 5;

/** `borrow 3 (client "ws-17", product 1001, expires 2026-01-31 12:00 UTC)` */
export function describeOne(row: Pick<BorrowRow, "id" | "client" | "product" | "expiresAt">): string {
  return `borrow ${row.id} (client "${row.client}", product ${row.product}, expires ${formatTime(row.expiresAt)})`;
}

/** The borrows a risk or refusal endangers, named one by one so the admin knows whom to call. */
export function describeBorrows(rows: readonly Pick<BorrowRow, "id" | "client" | "product" | "expiresAt">[]): string {
  const sorted = [...rows].sort((a, b) => a.expiresAt - b.expiresAt || a.id - b.id);
  const named = sorted.slice(0, NAMED_LIMIT).map(describeOne);
  const rest = sorted.length - named.length;
  return rest > 0 ? `${named.join(", ")} and ${rest} more` : named.join(", ");
}

export function lastExpiry(rows: readonly Pick<BorrowRow, "expiresAt">[]): number | null {
  let last: number | null = null;
  for (const row of rows) last = last === null ? row.expiresAt : Math.max(last, row.expiresAt);
  return last;
}

export function firstExpiry(rows: readonly Pick<BorrowRow, "expiresAt">[]): number | null {
  let first: number | null = null;
  for (const row of rows) first = first === null ? row.expiresAt : Math.min(first, row.expiresAt);
  return first;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

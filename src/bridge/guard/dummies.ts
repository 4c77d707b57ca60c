import type { BorrowRow } from "../../ledger/index.js";
import type { DummyView } from "../api.js";

/**
 * Dummies from the ledger's outstanding rows, with the product whose borrowing each blocks
 * (rule K1: any dummy of a product refuses every new borrow of it until dummyUntil, K5).
 * `keyNow` gives each key's clock, because the key clears its dummies in its own time.
 */
export function dummyViewsOf(rows: Iterable<BorrowRow>, keyNow: (serial: string) => number): DummyView[] {
  const views: DummyView[] = [];
  for (const row of rows) {
    if (row.state !== "dummy") continue;
    views.push({
      serial: row.serial,
      product: row.product,
      borrowId: row.id,
      dummyUntil: row.dummyUntil === null ? null : new Date(row.dummyUntil).toISOString(),
      blocksProduct: row.dummyUntil === null || row.dummyUntil > keyNow(row.serial),
    });
  }
  return views.sort((a, b) =>
    a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.product - b.product || a.borrowId - b.borrowId,
  );
}

/** Products whose borrowing is blocked now, one entry per key and product, with the latest clear date. */
export function blockedProductsOf(
  dummies: readonly DummyView[],
): { serial: string; product: number; until: string | null }[] {
  const blocked = new Map<string, { serial: string; product: number; until: string | null }>();
  for (const dummy of dummies) {
    if (!dummy.blocksProduct) continue;
    const key = `${dummy.serial}/${dummy.product}`;
    const known = blocked.get(key);
    if (known === undefined)
      blocked.set(key, { serial: dummy.serial, product: dummy.product, until: dummy.dummyUntil });
    else if (known.until !== null && (dummy.dummyUntil === null || dummy.dummyUntil > known.until)) {
      known.until = dummy.dummyUntil;
    }
  }
  return Array.from(blocked.values());
}

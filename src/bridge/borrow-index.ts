import type { BorrowRow } from "../ledger/index.js";
import { borrowKey, OUTSTANDING_STATES } from "../vocabulary/index.js";

/** An outstanding borrow with the parts of its view that never change, formatted once. */
export interface IndexedBorrow {
  readonly row: BorrowRow;
  readonly issuedAtIso: string;
  readonly expiresAtIso: string;
  readonly dummyUntilIso: string | undefined;
}

function indexed(row: BorrowRow): IndexedBorrow {
  return {
    row,
    issuedAtIso: new Date(row.issuedAt).toISOString(),
    expiresAtIso: new Date(row.expiresAt).toISOString(),
    dummyUntilIso: row.dummyUntil === null ? undefined : new Date(row.dummyUntil).toISOString(),
  };
}

/**
 * The outstanding borrows (active, returning, dummy) in memory, loaded once from the ledger and
 * updated by every operation after its commit, so listing borrows never touches SQLite or the key.
 */
export class BorrowIndex {
  private readonly entries = new Map<string, IndexedBorrow>();

  load(rows: Iterable<BorrowRow>): void {
    this.entries.clear();
    for (const row of rows) this.put(row);
  }

  /** Records the row's new state; rows that are no longer outstanding leave the index. Returns the entry kept. */
  put(row: BorrowRow): IndexedBorrow | undefined {
    const key = borrowKey(row.serial, row.id);
    if (!OUTSTANDING_STATES.includes(row.state)) {
      this.entries.delete(key);
      return undefined;
    }
    const entry = indexed(row);
    this.entries.set(key, entry);
    return entry;
  }

  get(serial: string, id: number): BorrowRow | undefined {
    return this.entries.get(borrowKey(serial, id))?.row;
  }

  /** Every outstanding borrow with this id (ids are per key, so more than one key may use it). */
  byId(id: number): BorrowRow[] {
    const found: BorrowRow[] = [];
    for (const entry of this.entries.values()) if (entry.row.id === id) found.push(entry.row);
    return found;
  }

  all(): IterableIterator<IndexedBorrow> {
    return this.entries.values();
  }

  rows(): BorrowRow[] {
    return Array.from(this.entries.values(), (entry) => entry.row);
  }

  get size(): number {
    return this.entries.size;
  }
}

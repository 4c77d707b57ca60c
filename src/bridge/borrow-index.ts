import type { BorrowRow } from "../ledger/index.js";
import { borrowKey, OUTSTANDING_STATES } from "../vocabulary/index.js";
import { isoTime } from "./iso-time.js";

/** An outstanding borrow with the parts of its view that never change, formatted once when first shown. */
export interface IndexedBorrow {
  readonly row: BorrowRow;
  readonly issuedAtIso: string;
  readonly expiresAtIso: string;
  readonly dummyUntilIso: string | undefined;
}

/**
 * Formats lazily: 100 000 outstanding borrows loaded at start are mostly never listed one by one,
 * and their times formatted up front took 70 MB (a concatenated string is a tree of pieces).
 */
class IndexEntry implements IndexedBorrow {
  private issued: string | undefined;
  private expires: string | undefined;
  private dummyUntil: string | undefined;

  constructor(readonly row: BorrowRow) {}

  get issuedAtIso(): string {
    this.issued ??= flatIso(this.row.issuedAt);
    return this.issued;
  }

  get expiresAtIso(): string {
    this.expires ??= flatIso(this.row.expiresAt);
    return this.expires;
  }

  get dummyUntilIso(): string | undefined {
    if (this.row.dummyUntil === null) return undefined;
    this.dummyUntil ??= flatIso(this.row.dummyUntil);
    return this.dummyUntil;
  }
}

/** `isoTime` as one flat string, so a cached time costs its 24 bytes and not the pieces it was joined from. */
function flatIso(ms: number): string {
  const text = isoTime(ms);
  // Reading a character makes V8 flatten the joined string in place.
  text.charCodeAt(0);
  return text;
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
    const entry = new IndexEntry(row);
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

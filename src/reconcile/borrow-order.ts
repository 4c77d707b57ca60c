/**
 * Borrow order: by serial, then by id (ids are per key). Reconcile walks every view in this
 * order, so each borrow is met once with all its records.
 */

/**
 * One view's records in borrow order (serial, then id), walked once. Records of one borrow that
 * a view lists twice (it should not) come in the order of their content, so which one the
 * classifiers see does not depend on the order of the input.
 */
export class Cursor<T extends { serial?: string; id: number }> {
  private readonly records: readonly T[];
  private at = 0;

  /** `keySerial`: the serial of every record, for a key's own list, whose records do not name it. */
  constructor(
    records: readonly T[],
    private readonly keySerial?: string,
  ) {
    this.records = this.inBorrowOrder(records);
  }

  private serialOf(record: T): string {
    return this.keySerial ?? (record.serial as string);
  }

  /** The serial of the next record, if any. */
  serial(): string | undefined {
    const next = this.records[this.at];
    return next === undefined ? undefined : this.serialOf(next);
  }

  /** The id of the next record if it is of this key. */
  id(serial: string): number | undefined {
    const next = this.records[this.at];
    return next === undefined || this.serialOf(next) !== serial ? undefined : next.id;
  }

  /** The next record if it is of this borrow, moving past it. */
  take(serial: string, id: number): T | undefined {
    const next = this.records[this.at];
    if (next === undefined || this.serialOf(next) !== serial || !sameId(next.id, id)) return undefined;
    this.at++;
    return next;
  }

  /** The first record of this borrow, moving past all of them (a view that lists a borrow twice gives its first). */
  takeFirst(serial: string, id: number): T | undefined {
    let first: T | undefined;
    for (let next = this.take(serial, id); next !== undefined; next = this.take(serial, id)) first ??= next;
    return first;
  }

  /** The list itself when it is in borrow order already (one look at each neighbour tells), else a sorted copy. */
  private inBorrowOrder(records: readonly T[]): readonly T[] {
    const compare = (a: T, b: T) =>
      compareSerials(this.serialOf(a), this.serialOf(b)) || compareIds(a.id, b.id) || compareContent(a, b);
    for (let i = 1; i < records.length; i++) {
      if (compare(records[i - 1]!, records[i]!) > 0) return [...records].sort(compare);
    }
    return records;
  }
}

export function compareSerials(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Ascending; an id that is not a number (NaN, from a damaged source) sorts last instead of breaking the order. */
export function compareIds(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  return a - b;
}

/** Only twins (two records of one borrow in one view) get here. */
function compareContent(a: object, b: object): number {
  return compareSerials(JSON.stringify(a), JSON.stringify(b));
}

function sameId(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

export function firstSerial(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareSerials(a, b) <= 0 ? a : b;
}

export function firstId(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareIds(a, b) <= 0 ? a : b;
}

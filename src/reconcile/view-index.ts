import { isOutstanding } from "../vocabulary/index.js";
import { viewRank } from "./report.js";
import { type Scratch, ScratchSlot } from "./scratch.js";
import type { KeyBorrow, KeyView, LedgerBorrow, ReconcileInput, RegistryBorrow } from "./types.js";

/**
 * Indexes the three views by serial and id without copying or re-reading their records.
 *
 * At 100 000 records the views no longer fit in the CPU caches, so every pass that reads a
 * record object costs a cache miss per record. Each record is therefore read once here (its
 * serial, id and, for the ledger, state), into typed arrays; grouping and ordering then work on
 * those arrays alone, and the classifier reads each record object once more. Typed arrays also
 * keep the index out of the garbage collector's way: nothing in them is traced or copied, and
 * their buffers are reused from call to call (`scratch.ts`), so the index lives only as long as
 * the call that built it.
 */

/** One serial; `view` is the most informative key view given for it. */
export interface SerialGroup {
  serial: string;
  view: KeyView | undefined;
}

/**
 * One source's records split into buckets (serial, or serial × outstanding/history): the
 * positions of bucket `b` are `order[start[b] .. start[b + 1])`, in ascending id order.
 */
export interface Buckets<T> {
  records: readonly T[];
  /** Id of the record at each position, so merging never touches the records. */
  ids: Float64Array;
  order: Int32Array;
  start: Int32Array;
}

export interface ViewIndex {
  /** Groups in serial order. */
  groups: SerialGroup[];
  /** Group number (index into the unsorted group table) of each entry of `groups`. */
  groupNumbers: number[];
  /** Bucket = group number; empty when the registry is unreadable. */
  registry: Buckets<RegistryBorrow>;
  /** Bucket = group number × 2 (+1 for rows no longer outstanding). */
  ledger: Buckets<LedgerBorrow>;
}

const NO_RECORDS: Buckets<never> = {
  records: [],
  ids: new Float64Array(0),
  order: new Int32Array(0),
  start: new Int32Array(1),
};

export function isOutstandingRow(row: LedgerBorrow): boolean {
  return isOutstanding(row.state);
}

class GroupTable {
  readonly groups: SerialGroup[] = [];
  private readonly numbers = new Map<string, number>();

  numberOf(serial: string): number {
    let number = this.numbers.get(serial);
    if (number === undefined) {
      number = this.groups.length;
      this.groups.push({ serial, view: undefined });
      this.numbers.set(serial, number);
    }
    return number;
  }
}

/**
 * Reads serial and id of every record once. Records usually arrive grouped by serial, so the
 * serial's group is looked up once per run of equal serials.
 */
function scan<T extends { serial: string; id: number }>(
  table: GroupTable,
  records: readonly T[],
  history: ((record: T) => boolean) | undefined,
  buckets: Int32Array,
  ids: Float64Array,
): void {
  const n = records.length;
  let lastSerial: string | undefined;
  let group = 0;
  for (let i = 0; i < n; i++) {
    const record = records[i]!;
    if (record.serial !== lastSerial) {
      lastSerial = record.serial;
      group = table.numberOf(lastSerial);
    }
    ids[i] = record.id;
    buckets[i] = history === undefined ? group : group * 2 + (history(record) ? 1 : 0);
  }
}

/** Counting sort of positions by bucket, then each bucket by id (TimSort is linear on sorted runs). */
export function bucketize<T>(
  records: readonly T[],
  buckets: Int32Array,
  ids: Float64Array,
  count: number,
  order: Int32Array,
): Buckets<T> {
  const n = records.length;
  const start = new Int32Array(count + 1);
  for (let i = 0; i < n; i++) start[buckets[i]! + 1]!++;
  for (let b = 0; b < count; b++) start[b + 1]! += start[b]!;
  const next = start.slice(0, count);
  for (let i = 0; i < n; i++) order[next[buckets[i]!]!++] = i;
  for (let b = 0; b < count; b++) sortBucket(order, ids, start[b]!, start[b + 1]!);
  return { records, ids, order, start };
}

function sortBucket(order: Int32Array, ids: Float64Array, from: number, to: number): void {
  for (let k = from + 1; k < to; k++) {
    if (ids[order[k - 1]!]! > ids[order[k]!]!) {
      order.subarray(from, to).sort((a, b) => ids[a]! - ids[b]!);
      return;
    }
  }
}

/** A key's own borrow list as one bucket. Valid until the next call with the same scratch. */
export function keyBuckets(borrows: readonly KeyBorrow[], scratch: Scratch): Buckets<KeyBorrow> {
  const n = borrows.length;
  if (n === 0) return NO_RECORDS;
  const ids = scratch.float64(ScratchSlot.KeyIds, n);
  const order = scratch.int32(ScratchSlot.KeyOrder, n);
  for (let i = 0; i < n; i++) {
    ids[i] = borrows[i]!.id;
    order[i] = i;
  }
  sortBucket(order, ids, 0, n);
  return { records: borrows, ids, order, start: Int32Array.of(0, n) };
}

export function emptyBuckets<T>(): Buckets<T> {
  return NO_RECORDS;
}

/** The index of the input's views; its arrays are `scratch`'s, valid while the caller holds it. */
export function indexViews(input: ReconcileInput, scratch: Scratch): ViewIndex {
  const table = new GroupTable();
  for (const view of input.keys) {
    const group = table.groups[table.numberOf(view.serial)]!;
    if (group.view === undefined || viewRank(view) > viewRank(group.view)) group.view = view;
  }
  const registryCount = input.registry.readable ? input.registry.borrows.length : 0;
  const registryBuckets = scratch.int32(ScratchSlot.RegistryBuckets, registryCount);
  const registryIds = scratch.float64(ScratchSlot.RegistryIds, registryCount);
  if (input.registry.readable) scan(table, input.registry.borrows, undefined, registryBuckets, registryIds);
  const ledgerBuckets = scratch.int32(ScratchSlot.LedgerBuckets, input.ledger.length);
  const ledgerIds = scratch.float64(ScratchSlot.LedgerIds, input.ledger.length);
  scan(table, input.ledger, (row) => !isOutstandingRow(row), ledgerBuckets, ledgerIds);
  const count = table.groups.length;
  const groupNumbers = Array.from(table.groups.keys()).sort((a, b) => {
    const x = table.groups[a]!.serial;
    const y = table.groups[b]!.serial;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return {
    groups: groupNumbers.map((number) => table.groups[number]!),
    groupNumbers,
    registry: input.registry.readable
      ? bucketize(
          input.registry.borrows,
          registryBuckets,
          registryIds,
          count,
          scratch.int32(ScratchSlot.RegistryOrder, registryCount),
        )
      : { ...NO_RECORDS, start: new Int32Array(count + 1) },
    ledger: bucketize(
      input.ledger,
      ledgerBuckets,
      ledgerIds,
      count * 2,
      scratch.int32(ScratchSlot.LedgerOrder, input.ledger.length),
    ),
  };
}

/** Walks one bucket in id order. One instance per source is reused for every serial. */
export class Cursor<T extends { id: number }> {
  private records: readonly T[] = [];
  private ids: Float64Array = NO_RECORDS.ids;
  private order: Int32Array = NO_RECORDS.order;
  private at = 0;
  private end = 0;

  reset(source: Buckets<T>, bucket: number): void {
    this.records = source.records;
    this.ids = source.ids;
    this.order = source.order;
    this.at = source.start[bucket]!;
    this.end = source.start[bucket + 1]!;
  }

  /** The next id, or +Infinity at the end. */
  nextId(): number {
    return this.at < this.end ? this.ids[this.order[this.at]!]! : Number.POSITIVE_INFINITY;
  }

  /** The record with `id` (duplicates resolved stably), moving past all records with that id. */
  take(id: number): T | undefined {
    let found: T | undefined;
    while (this.at < this.end && sameId(this.ids[this.order[this.at]!]!, id)) {
      const candidate = this.records[this.order[this.at++]!]!;
      found = found === undefined ? candidate : pickStable(found, candidate);
    }
    return found;
  }
}

/** Deterministic choice between duplicates, so the report does not depend on input order. */
function pickStable<T>(current: T, candidate: T): T {
  return JSON.stringify(candidate) < JSON.stringify(current) ? candidate : current;
}

/** Id equality in which NaN equals NaN: an id that equals nothing would never be taken, and the merge would not end. */
function sameId(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

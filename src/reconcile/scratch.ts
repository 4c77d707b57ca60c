/**
 * Typed arrays reused from one reconcile call to the next.
 *
 * The index of 100 000 records needs about 5 MB of typed arrays. Allocated fresh, each large one
 * is a new zeroed mapping whose pages fault in on first write and which only the garbage
 * collector gives back; reused, a large reconcile touches memory it already owns. The buffers
 * only grow, so a process keeps the memory of its largest reconcile (about 44 bytes a record).
 */
/** Which buffer: one per array the index keeps while a call runs. */
export const ScratchSlot = {
  RegistryIds: 0,
  RegistryBuckets: 1,
  RegistryOrder: 2,
  LedgerIds: 3,
  LedgerBuckets: 4,
  LedgerOrder: 5,
  KeyIds: 6,
  KeyOrder: 7,
} as const;
export type ScratchSlot = (typeof ScratchSlot)[keyof typeof ScratchSlot];

const SLOTS = 8;

export class Scratch {
  private readonly f64: Float64Array[] = new Array<Float64Array>(SLOTS).fill(new Float64Array(0));
  private readonly i32: Int32Array[] = new Array<Int32Array>(SLOTS).fill(new Int32Array(0));

  /** `n` float64 entries of the slot's buffer, with unspecified contents. */
  float64(slot: ScratchSlot, n: number): Float64Array {
    let buffer = this.f64[slot]!;
    if (buffer.length < n) {
      buffer = new Float64Array(grown(buffer.length, n));
      this.f64[slot] = buffer;
    }
    return buffer.subarray(0, n);
  }

  /** `n` int32 entries of the slot's buffer, with unspecified contents. */
  int32(slot: ScratchSlot, n: number): Int32Array {
    let buffer = this.i32[slot]!;
    if (buffer.length < n) {
      buffer = new Int32Array(grown(buffer.length, n));
      this.i32[slot] = buffer;
    }
    return buffer.subarray(0, n);
  }
}

function grown(current: number, needed: number): number {
  return Math.max(needed, Math.ceil(current * 1.5));
}

let idle: Scratch | undefined = new Scratch();

/**
 * Runs `work` with the shared scratch buffers, or with fresh ones when they are in use (a
 * reconcile started from inside another, say from a record's `toJSON`), so no two calls share.
 */
export function withScratch<T>(work: (scratch: Scratch) => T): T {
  const scratch = idle ?? new Scratch();
  idle = undefined;
  try {
    return work(scratch);
  } finally {
    idle = scratch;
  }
}

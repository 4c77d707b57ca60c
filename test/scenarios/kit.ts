import type { VirtualKey } from "../../native-mocks/index.js";

export const DAY_MS = 86_400_000;
export const SERIAL = "KB-DEMO-0001";

/** The timeline every scenario follows, in days after the three borrows are made. */
export const TIMELINE = {
  /** ws-1 and ws-2 return their borrows early. */
  returnDay: 3,
  /** ws-3 lets its 30-day borrow expire; the server settles it. The run ends after every expiry and settle window. */
  lastDay: 33,
} as const;

/** The three borrows every scenario starts with: two of product 1001, one of product 1003. */
export const CLIENTS = [
  { client: "ws-1", product: 1001, returns: true },
  { client: "ws-2", product: 1001, returns: true },
  { client: "ws-3", product: 1003, returns: false },
] as const;

/** The upgrade of the license-update scenarios: more seats of 1001, the rest unchanged. */
export const UPGRADED_LICENSES = [
  { product: 1001, seats: 20, borrowable: 8, borrowDays: 30 },
  { product: 1002, seats: 5, borrowable: 2, borrowDays: 14 },
  { product: 1003, seats: 20, borrowable: 10, borrowDays: 30 },
];

export interface RunResult {
  dummies: number;
  seatsBlocked: number;
  daysBlocked: number;
  /** What the server did or said, in order (keybridge: risks, refusals, repairs, migrations). */
  notes: string[];
  /** Borrows still outstanding on the key at the end (must be 0: everything was settled or is a dummy). */
  leftActive: number;
}

interface SeenDummy {
  product: number;
  dummyUntil: number;
}

/**
 * Watches the virtual keys and remembers every Borrow Dummy that appears, so dummies that clear
 * before the end of a run are still counted. Seats blocked: the borrowable seats of every product
 * with a dummy (rule K1 refuses all of them); days blocked: the longest time a product stays blocked.
 */
export class DummyTracker {
  private readonly seen = new Map<string, SeenDummy>();
  private readonly borrowable = new Map<number, number>();
  private readonly borrowDays = new Map<number, number>();

  observe(keys: readonly VirtualKey[]): void {
    for (const key of keys) {
      let state: VirtualKey["state"];
      try {
        state = key.state;
      } catch {
        continue;
      }
      for (const license of state.licenses) {
        this.borrowable.set(license.product, license.borrowable);
        this.borrowDays.set(license.product, license.borrowDays);
      }
      for (const record of state.borrows) {
        if (record.state !== "dummy") continue;
        const id = `${state.serial}/${record.id}`;
        if (!this.seen.has(id)) this.seen.set(id, { product: record.product, dummyUntil: record.dummyUntil ?? 0 });
      }
    }
  }

  activeOn(keys: readonly VirtualKey[]): number {
    let active = 0;
    for (const key of keys) {
      try {
        active += key.state.borrows.filter((record) => record.state === "active").length;
      } catch {
        // An unplugged key cannot be read; the run replugs it before the end.
      }
    }
    return active;
  }

  result(notes: string[], leftActive: number): RunResult {
    const products = new Map<number, { from: number; to: number }[]>();
    for (const dummy of this.seen.values()) {
      const period = (this.borrowDays.get(dummy.product) ?? 30) * DAY_MS;
      const spans = products.get(dummy.product) ?? [];
      spans.push({ from: dummy.dummyUntil - period, to: dummy.dummyUntil });
      products.set(dummy.product, spans);
    }
    let seatsBlocked = 0;
    let daysBlocked = 0;
    for (const [product, spans] of products) {
      seatsBlocked += this.borrowable.get(product) ?? 0;
      daysBlocked = Math.max(daysBlocked, unionLength(spans) / DAY_MS);
    }
    return { dummies: this.seen.size, seatsBlocked, daysBlocked: Math.round(daysBlocked), notes, leftActive };
  }
}

function unionLength(spans: { from: number; to: number }[]): number {
  const sorted = [...spans].sort((a, b) => a.from - b.from);
  let total = 0;
  let start = Number.NEGATIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const span of sorted) {
    if (span.from > end) {
      if (end > start) total += end - start;
      start = span.from;
      end = span.to;
    } else {
      end = Math.max(end, span.to);
    }
  }
  if (end > start) total += end - start;
  return total;
}

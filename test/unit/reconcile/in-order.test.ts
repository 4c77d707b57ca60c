import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { looksInOrder, reconcileInOrder, bySerialThenId as serialThenId } from "../../../src/reconcile/in-order.js";
import type { ReconcileInput } from "../../../src/reconcile/index.js";
import { historyNeeded, reconcile } from "../../../src/reconcile/index.js";
import { reconcileIndexed } from "../../../src/reconcile/reconcile.js";
import { OUTSTANDING_STATES } from "../../../src/vocabulary/index.js";
import { consistent, DAY, keyBorrow, NOW, OTHER_HOST } from "./fixtures.js";
import { inputOf, worldArb } from "./world.js";

const RUNS = { numRuns: 300 };

type Keyed = { serial: string; id: number };
const bySerialThenId = (a: Keyed, b: Keyed) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.id - b.id);
const byIdThenSerial = (a: Keyed, b: Keyed) => a.id - b.id || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);

/** The same input with every view sorted: keys by id, registry and ledger by `order`. */
function sorted(input: ReconcileInput, order: (a: Keyed, b: Keyed) => number): ReconcileInput {
  return {
    ...input,
    keys: input.keys.map((k) =>
      k.borrows === undefined ? k : { ...k, borrows: [...k.borrows].sort((a, b) => a.id - b.id) },
    ),
    registry: input.registry.readable
      ? { readable: true, borrows: [...input.registry.borrows].sort(order) }
      : input.registry,
    ledger: [...input.ledger].sort(order),
  };
}

/** True when some view lists one borrow twice: the one-pass merge leaves those to the general path. */
function hasDuplicates(input: ReconcileInput): boolean {
  const lists: Keyed[][] = [input.ledger, input.registry.readable ? input.registry.borrows : []];
  for (const k of input.keys) if (k.borrows) lists.push(k.borrows.map((b) => ({ serial: k.serial, id: b.id })));
  return lists.some((list) => new Set(list.map((r) => `${r.serial}/${r.id}`)).size !== list.length);
}

describe("reconcile of views already in order", () => {
  it("gives the general path's report for views sorted by serial then id, or by id then serial", () => {
    fc.assert(
      fc.property(worldArb, fc.boolean(), (w, serialFirst) => {
        const input = sorted(inputOf(w), serialFirst ? bySerialThenId : byIdThenSerial);
        const fast = reconcileInOrder(input);
        if (!hasDuplicates(input)) expect(fast).toBeDefined();
        if (fast !== undefined) expect(fast).toEqual(reconcileIndexed(input));
      }),
      RUNS,
    );
  });

  it("gives the general path's report, or leaves the input to it, whatever the order", () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const input = inputOf(w);
        const fast = reconcileInOrder(input);
        if (fast !== undefined) expect(fast).toEqual(reconcileIndexed(input));
        expect(reconcile(input)).toEqual(reconcileIndexed(input));
      }),
      RUNS,
    );
  });

  it("notices a record out of order past the records it samples, and reports as for any order", () => {
    const borrows = Array.from({ length: 200 }, (_, i) =>
      keyBorrow(i + 1, i % 17 === 0 ? { binding: OTHER_HOST } : i % 23 === 0 ? { expiresAt: NOW - DAY / 2 } : {}),
    );
    const input = consistent(borrows);
    const ledger = [...input.ledger];
    [ledger[150], ledger[151]] = [ledger[151]!, ledger[150]!];
    const swapped = { ...input, ledger };
    expect(reconcileInOrder(swapped)).toBeUndefined();
    const report = reconcile(swapped);
    expect(report).toEqual(reconcileIndexed(input));
    expect(report.counts["binding-mismatch"]).toBe(12);
    expect(report.healthyBorrows).toBeGreaterThan(150);
  });

  it("finds the right key for records of many keys interleaved by id", () => {
    const serials = Array.from({ length: 12 }, (_, k) => `S-${String(k).padStart(2, "0")}`);
    const inputs = serials.map((serial, k) => {
      const borrows = Array.from({ length: 20 }, (_, i) =>
        keyBorrow(i * 12 + k + 1, i % 7 === k % 7 ? { binding: OTHER_HOST } : {}),
      );
      const input = consistent(borrows);
      input.keys[0]!.serial = serial;
      for (const row of input.ledger) row.serial = serial;
      if (input.registry.readable) for (const entry of input.registry.borrows) entry.serial = serial;
      return input;
    });
    // Every fourth key is not plugged in: its ledger rows and registry entries have no key view.
    const input: ReconcileInput = {
      ...inputs[0]!,
      keys: inputs.map((i) => i.keys[0]!).filter((_, k) => k % 4 !== 3),
      registry: { readable: true, borrows: inputs.flatMap((i) => (i.registry.readable ? i.registry.borrows : [])) },
      ledger: inputs.flatMap((i) => i.ledger),
    };
    const interleaved = sorted(input, byIdThenSerial);
    const fast = reconcileInOrder(interleaved);
    expect(fast).toBeDefined();
    expect(fast).toEqual(reconcileIndexed(interleaved));
    expect(fast!.counts["key-absent"]).toBe(60);
    expect(fast!.healthyBorrows).toBeGreaterThan(100);
  });

  it("rejects, before merging, a list whose serial blocks come in another order", () => {
    const block = (serial: string) => Array.from({ length: 500 }, (_, i) => ({ serial, id: i + 1 }));
    expect(looksInOrder([...block("K-1"), ...block("K-2")], serialThenId)).toBe(true);
    expect(looksInOrder([...block("K-2"), ...block("K-1")], serialThenId)).toBe(false);
    const lastTwoSwapped = [...block("K-1"), ...block("K-2")];
    lastTwoSwapped.push(lastTwoSwapped.splice(-2, 1)[0]!);
    expect(looksInOrder(lastTwoSwapped, serialThenId)).toBe(false);
  });

  it("ends on ids that equal nothing (NaN), in either path", () => {
    const input = consistent([keyBorrow(1), keyBorrow(2)]);
    input.ledger = [{ ...input.ledger[0]!, id: Number.NaN }, input.ledger[1]!];
    expect(reconcileInOrder(input)).toBeUndefined();
    const report = reconcile(input);
    expect(report.counts["ledger-missing"]).toBe(1);
    expect(report.healthyBorrows).toBe(1);
  });
});

describe("history the reconciler needs", () => {
  it("the same report from every outstanding row plus only the closed rows a key or the registry names", () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const input = inputOf(w);
        const named = historyNeeded(input.keys, input.registry);
        const ledger = input.ledger.filter(
          (row) => OUTSTANDING_STATES.includes(row.state) || named.get(row.serial)?.has(row.id) === true,
        );
        expect(reconcile({ ...input, ledger })).toEqual(reconcile(input));
      }),
      RUNS,
    );
  });

  it("drops closed rows nobody names (the property above would pass trivially otherwise)", () => {
    let dropped = 0;
    fc.assert(
      fc.property(worldArb, (w) => {
        const input = inputOf(w);
        const named = historyNeeded(input.keys, input.registry);
        dropped += input.ledger.filter(
          (row) => !OUTSTANDING_STATES.includes(row.state) && named.get(row.serial)?.has(row.id) !== true,
        ).length;
      }),
      RUNS,
    );
    expect(dropped).toBeGreaterThan(0);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { KeyView, ReconcileInput } from "../../../src/reconcile/index.js";
import { historyNeeded, reconcile } from "../../../src/reconcile/index.js";
import { OUTSTANDING_STATES } from "../../../src/vocabulary/index.js";
import { consistent, DAY, keyBorrow, NOW, OTHER_HOST } from "./fixtures.js";
import { referenceReconcile } from "./reference.js";
import { inputOf, reorder, worldArb } from "./world.js";

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

/**
 * What a damaged or careless source may add to a world: a second view of one key (absent,
 * unreadable or missing a record), a registry entry or ledger row listed twice with other
 * content, and views of keys that hold nothing.
 */
const messArb = fc.record({
  secondView: fc.nat(8),
  registryTwins: fc.array(fc.nat(), { maxLength: 3 }),
  ledgerTwins: fc.array(fc.nat(), { maxLength: 3 }),
  idleKey: fc.constantFrom("none", "readable", "absent"),
});
type Mess = typeof messArb extends fc.Arbitrary<infer T> ? T : never;

function messy(input: ReconcileInput, mess: Mess): ReconcileInput {
  const out = structuredClone(input);
  if (mess.secondView > 0 && out.keys.length > 0) {
    const view = out.keys[mess.secondView % out.keys.length]!;
    const second: KeyView =
      mess.secondView % 3 === 0
        ? { serial: view.serial, present: false, settleWindowMs: view.settleWindowMs }
        : mess.secondView % 3 === 1
          ? { serial: view.serial, present: true, settleWindowMs: view.settleWindowMs }
          : { ...view, borrows: view.borrows?.slice(1) };
    out.keys.splice(mess.secondView % (out.keys.length + 1), 0, second);
  }
  if (out.registry.readable) {
    const entries = out.registry.borrows;
    for (const n of mess.registryTwins) {
      const entry = entries[n % Math.max(1, entries.length)];
      if (entry) entries.push({ ...entry, client: n % 2 === 0 ? entry.client : `${entry.client}-twin` });
    }
  }
  for (const n of mess.ledgerTwins) {
    const row = out.ledger[n % Math.max(1, out.ledger.length)];
    if (row) out.ledger.push({ ...row, tag: n % 2 === 0 ? row.tag : "11".repeat(16) });
  }
  if (mess.idleKey === "readable") out.keys.push({ serial: "K-9", present: true, borrows: [], settleWindowMs: DAY });
  if (mess.idleKey === "absent") out.keys.push({ serial: "A-0", present: false, settleWindowMs: DAY });
  return out;
}

describe("reconcile against the reference reconciler", () => {
  it("gives the reference's report for views in any order", () => {
    fc.assert(
      fc.property(worldArb, fc.nat(), (w, by) => {
        const input = inputOf(w);
        const expected = referenceReconcile(input);
        expect(reconcile(input)).toEqual(expected);
        expect(reconcile(reorder(input, by))).toEqual(expected);
        expect(reconcile(sorted(input, bySerialThenId))).toEqual(expected);
        expect(reconcile(sorted(input, byIdThenSerial))).toEqual(expected);
      }),
      RUNS,
    );
  });

  it("gives the reference's report for views that list a key or a borrow twice", () => {
    fc.assert(
      fc.property(worldArb, messArb, fc.nat(), (w, mess, by) => {
        // Two readable views of one key that disagree: the first one counts, so the order matters here.
        const input = messy(inputOf(w), mess);
        expect(reconcile(input)).toEqual(referenceReconcile(input));
        const reordered = reorder(input, by);
        expect(reconcile(reordered)).toEqual(referenceReconcile(reordered));
      }),
      RUNS,
    );
  });

  it("reports a record out of order anywhere in a long list as if it were in order", () => {
    const borrows = Array.from({ length: 200 }, (_, i) =>
      keyBorrow(i + 1, i % 17 === 0 ? { binding: OTHER_HOST } : i % 23 === 0 ? { expiresAt: NOW - DAY / 2 } : {}),
    );
    const input = consistent(borrows);
    const ledger = [...input.ledger];
    [ledger[150], ledger[151]] = [ledger[151]!, ledger[150]!];
    const report = reconcile({ ...input, ledger });
    expect(report).toEqual(reconcile(input));
    expect(report).toEqual(referenceReconcile(input));
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
    const report = reconcile(sorted(input, byIdThenSerial));
    expect(report).toEqual(referenceReconcile(input));
    expect(report).toEqual(reconcile(input));
    expect(report.counts["key-absent"]).toBe(60);
    expect(report.healthyBorrows).toBeGreaterThan(100);
  });

  it("reports a key's records whose serial blocks come in another order in each view", () => {
    const k1 = consistent([keyBorrow(1), keyBorrow(2, { binding: OTHER_HOST })]);
    const k2 = consistent([keyBorrow(1, { expiresAt: NOW - DAY / 2 }), keyBorrow(3)]);
    for (const row of k2.ledger) row.serial = "K-2";
    if (k2.registry.readable) for (const entry of k2.registry.borrows) entry.serial = "K-2";
    k2.keys[0]!.serial = "K-2";
    const input: ReconcileInput = {
      ...k1,
      keys: [k2.keys[0]!, k1.keys[0]!],
      registry: {
        readable: true,
        borrows: [
          ...(k2.registry.readable ? k2.registry.borrows : []),
          ...(k1.registry.readable ? k1.registry.borrows : []),
        ],
      },
      ledger: [...k1.ledger, ...k2.ledger],
    };
    const report = reconcile(input);
    expect(report).toEqual(referenceReconcile(input));
    expect(report.findings.map((f) => `${f.serial}/${f.borrowId ?? f.borrowIds}:${f.kind}`)).toEqual([
      "K-1/2:binding-mismatch",
      "K-1/1:healthy",
      "K-2/1:expired-unsettled",
      "K-2/3:healthy",
    ]);
  });

  it("ends, and counts every record, when an id is not a number (NaN)", () => {
    const input = consistent([keyBorrow(1), keyBorrow(2)]);
    input.ledger = [{ ...input.ledger[0]!, id: Number.NaN }, input.ledger[1]!];
    const report = reconcile(input);
    expect(report).toEqual(referenceReconcile(input));
    expect(report.counts["ledger-missing"]).toBe(1);
    expect(report.counts["ledger-orphan"]).toBe(1);
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

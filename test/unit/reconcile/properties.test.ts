import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Finding, ReconcileInput } from "../../../src/reconcile/index.js";
import { planRepairs, reconcile } from "../../../src/reconcile/index.js";
import { applyPlan, cloneInput, inputOf, reorder, worldArb } from "./world.js";

const RUNS = { numRuns: 300 };

function readableKey(input: ReconcileInput, serial: string) {
  const view = input.keys.find((k) => k.serial === serial);
  return view?.present && view.borrows !== undefined ? view : undefined;
}

function keyRecord(input: ReconcileInput, f: Finding) {
  return readableKey(input, f.serial!)?.borrows?.find((b) => b.id === f.borrowId);
}

describe("reconcile invariants", () => {
  it("does not depend on the order of its inputs", () => {
    fc.assert(
      fc.property(worldArb, fc.nat(), (w, by) => {
        const input = inputOf(w);
        expect(reconcile(reorder(input, by))).toEqual(reconcile(input));
      }),
      RUNS,
    );
  });

  it("gives every outstanding ledger borrow, key record and registry entry exactly one primary finding", () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const input = inputOf(w);
        const report = reconcile(input);
        const primaries = new Map<string, number>();
        for (const f of report.findings) {
          // A healthy finding is the primary finding of every borrow it lists.
          for (const borrowId of f.borrowIds ?? (f.borrowId === undefined ? [] : [f.borrowId])) {
            const id = `${f.serial}/${borrowId}`;
            primaries.set(id, (primaries.get(id) ?? 0) + (f.primary ? 1 : 0));
          }
        }
        const expected = new Set<string>();
        for (const r of input.ledger) {
          if (r.state === "active" || r.state === "returning" || r.state === "dummy")
            expected.add(`${r.serial}/${r.id}`);
        }
        for (const k of input.keys) {
          if (k.present && k.borrows) for (const b of k.borrows) expected.add(`${k.serial}/${b.id}`);
        }
        if (input.registry.readable) for (const r of input.registry.borrows) expected.add(`${r.serial}/${r.id}`);
        for (const id of expected) expect(primaries.get(id), id).toBe(1);
        for (const [id, n] of primaries) expect(n, id).toBe(1);
      }),
      RUNS,
    );
  });

  it("never offers a safe repair that settles a borrow bound elsewhere or not yet expired", () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const input = inputOf(w);
        for (const f of reconcile(input).findings) {
          if (f.repair.action !== "settle-now" || !f.repair.safe) continue;
          const k = keyRecord(input, f);
          expect(k).toBeDefined();
          expect(k!.binding).toBe(input.host.binding);
          const keyNow = readableKey(input, f.serial!)!.keyTimeMs ?? input.now;
          expect(keyNow).toBeGreaterThanOrEqual(k!.expiresAt);
        }
      }),
      RUNS,
    );
  });

  it("only drops ledger rows or registry entries automatically when the key confirms it has no record", () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const input = inputOf(w);
        for (const f of reconcile(input).findings) {
          if (!f.repair.safe) continue;
          if (f.repair.action !== "remove-registry-entry" && f.repair.action !== "mark-ledger-settled") continue;
          expect(readableKey(input, f.serial!)).toBeDefined();
          expect(keyRecord(input, f)).toBeUndefined();
        }
      }),
      RUNS,
    );
  });

  it("plans are deterministic, duplicate-free and hold only safe actions in phase order", () => {
    const phase = [
      "rebuild-ledger",
      "mark-ledger-settled",
      "restore-registry",
      "remove-registry-entry",
      "migrate",
      "settle-now",
    ];
    fc.assert(
      fc.property(worldArb, (w) => {
        const report = reconcile(inputOf(w));
        const plan = planRepairs(report);
        expect(planRepairs(report)).toEqual(plan);
        const ids = plan.steps.map((s) => `${s.action}/${s.serial}/${s.borrowId}`);
        expect(new Set(ids).size).toBe(ids.length);
        const phases = plan.steps.map((s) => phase.indexOf(s.action));
        expect(phases).toEqual([...phases].sort((a, b) => a - b));
        for (const m of plan.manual) expect(m.repair.safe).toBe(false);
      }),
      RUNS,
    );
  });

  it("applying safe plans never makes the key refuse or create a dummy, and converges", () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const input = cloneInput(inputOf(w));
        let rounds = 0;
        for (;;) {
          const plan = planRepairs(reconcile(input));
          if (plan.steps.length === 0) break;
          rounds++;
          expect(rounds, JSON.stringify(plan.steps)).toBeLessThanOrEqual(4);
          expect(applyPlan(input, plan).failures).toEqual([]);
        }
      }),
      RUNS,
    );
  });
});

import { describe, expect, it } from "vitest";
import type { KeyBorrow } from "../../../src/reconcile/index.js";
import { reconcile } from "../../../src/reconcile/index.js";
import { consistent, DAY, keyBorrow, ledgerOf, NOW, OTHER_HOST } from "./fixtures.js";

/** A small world with one finding of each common kind, so a wrong index would show. */
function small() {
  const borrows: KeyBorrow[] = [
    keyBorrow(3),
    keyBorrow(7, { binding: OTHER_HOST }),
    keyBorrow(9, { expiresAt: NOW - DAY / 2 }),
  ];
  const input = consistent(borrows);
  input.registry = { readable: true, borrows: input.registry.readable ? input.registry.borrows.slice(1) : [] };
  return input;
}

/** A larger world in descending id order, so the reused buffers hold other ids past the small one's end. */
function large(n: number) {
  const borrows = Array.from({ length: n }, (_, i) => keyBorrow(n - i + 100));
  return consistent(borrows);
}

describe("reconcile's reused index buffers", () => {
  it("gives the same report for a small input before and after a larger one", () => {
    const before = JSON.stringify(reconcile(small()));
    const big = reconcile(large(5_000));
    expect(big.healthyBorrows).toBe(5_000);
    expect(JSON.stringify(reconcile(small()))).toBe(before);
  });

  it("keeps a reconcile started from inside another apart from the outer one", () => {
    const outer = small();
    let innerReport: string | undefined;
    // Two ledger rows with the same id make the index compare them through JSON.stringify, which
    // calls toJSON: a reconcile inside it must not overwrite the outer call's index.
    const row = ledgerOf(keyBorrow(3));
    const twin = {
      ...row,
      toJSON() {
        innerReport = JSON.stringify(reconcile(large(300)));
        return row;
      },
    };
    const expected = JSON.stringify(reconcile(small()));
    outer.ledger = [...outer.ledger, twin];
    const report = JSON.stringify(reconcile(outer));
    expect(innerReport).toContain('"healthyBorrows":300');
    expect(report).toBe(expected);
  });
});

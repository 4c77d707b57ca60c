import { unreadableRegistryFinding } from "./findings.js";
import type { ClassifyContext } from "./slot.js";
import { blockedBy, tally } from "./summary.js";
import type { DummyInfo, Finding, KeyBorrow, KeyView, ReconcileInput, ReconcileReport } from "./types.js";

export function isReadable(view: KeyView | undefined): view is KeyView & { borrows: KeyBorrow[] } {
  return view?.present === true && view.borrows !== undefined;
}

/** Ranks the views given for one serial: the most informative one is reconciled. */
export function viewRank(view: KeyView): number {
  return isReadable(view) ? 2 : view.present ? 1 : 0;
}

export function classifyContext(input: ReconcileInput, dummies: DummyInfo[]): ClassifyContext {
  const keyLastBinding = input.host.keyLastBinding;
  return {
    hostBinding: input.host.binding,
    keyMoved: (serial) => {
      const last = keyLastBinding?.[serial];
      return last !== undefined && last !== input.host.binding;
    },
    registryReadable: input.registry.readable,
    now: input.now,
    tagDerivable: input.tagDerivable === true,
    derivedTags: input.derivedTags,
    out: [],
    dummies,
  };
}

/** The report around the findings in report order (serial, then borrow id; each key's healthy finding last). */
export function finishReport(
  input: ReconcileInput,
  findings: Finding[],
  healthyBorrows: number,
  anyKeyUnreadable: boolean,
  dummies: DummyInfo[],
): ReconcileReport {
  if (!input.registry.readable) {
    let ledgerMissing = 0;
    for (const f of findings) if (f.kind === "ledger-missing") ledgerMissing++;
    findings.unshift(unreadableRegistryFinding(input.registry.reason, !anyKeyUnreadable && ledgerMissing === 0));
  }
  const { counts, worst } = tally(findings);
  return { now: input.now, findings, counts, healthyBorrows, worst, dummies, blockedProducts: blockedBy(dummies) };
}

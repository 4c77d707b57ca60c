import type { BorrowViews, Classified } from "../../../src/reconcile/borrow-views.js";
import { classifyAbsent } from "../../../src/reconcile/classify-absent.js";
import { classifyPresent } from "../../../src/reconcile/classify-present.js";
import { healthyFinding, primaryFirst, unreadableRegistryFinding } from "../../../src/reconcile/findings.js";
import type { DummyInfo, Finding, KeyView, ReconcileInput, ReconcileReport } from "../../../src/reconcile/index.js";
import { blockedBy, tally } from "../../../src/reconcile/summary.js";

/**
 * A reference reconciler, written for obviousness and not for speed: it asks every list for every
 * borrow (quadratic), with the same classification rules as `reconcile`. What it pins down is
 * everything around the rules: which key view counts, which borrows exist, which record of a
 * borrow listed twice is used, and the order of the report.
 */
export function referenceReconcile(input: ReconcileInput): ReconcileReport {
  const registry = input.registry.readable ? input.registry.borrows : [];
  const outstanding = (state: string) => state === "active" || state === "returning" || state === "dummy";
  const readable = (view: KeyView | undefined) => view?.present === true && view.borrows !== undefined;
  const rank = (view: KeyView) => (readable(view) ? 2 : view.present ? 1 : 0);
  /** Of a borrow's records in one view, the one whose JSON sorts first. */
  const pick = <T>(records: T[]): T | undefined =>
    records.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))[0];
  const ascending = (a: number, b: number) => (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : a - b);

  const serials = [...new Set([...input.keys, ...registry, ...input.ledger].map((r) => r.serial))].sort();
  const ctx = {
    hostBinding: input.host.binding,
    keyMoved: (serial: string) => {
      const last = input.host.keyLastBinding?.[serial];
      return last !== undefined && last !== input.host.binding;
    },
    registryReadable: input.registry.readable,
    now: input.now,
    tagDerivable: input.tagDerivable === true,
    derivedTags: input.derivedTags,
  };

  const findings: Finding[] = [];
  const dummies: DummyInfo[] = [];
  let healthyBorrows = 0;
  let anyKeyUnreadable = false;
  for (const serial of serials) {
    // The first of the most informative views given for the key.
    const views = input.keys.filter((k) => k.serial === serial);
    const view = views.find((v) => rank(v) === Math.max(...views.map(rank)));
    const keyRecords = readable(view) ? view!.borrows! : [];
    const regs = registry.filter((r) => r.serial === serial);
    const rows = input.ledger.filter((r) => r.serial === serial);
    const ids = [...new Set([...keyRecords, ...regs, ...rows].map((r) => r.id))].sort(ascending);
    const same = (id: number) => (r: { id: number }) => Object.is(r.id, id) || r.id === id;

    const healthyIds: number[] = [];
    let problems = 0;
    for (const id of ids) {
      const borrow: BorrowViews = {
        serial,
        id,
        key: pick(keyRecords.filter(same(id))),
        reg: pick(regs.filter(same(id))),
        led: pick(rows.filter(same(id)).filter((r) => outstanding(r.state))),
        hist: pick(rows.filter(same(id)).filter((r) => !outstanding(r.state))),
      };
      const classified: Classified = readable(view)
        ? classifyPresent(borrow, view!, ctx)
        : classifyAbsent(borrow, view, ctx);
      if (classified.dummy) dummies.push(classified.dummy);
      if (classified.findings.length === 0) {
        if (borrow.key) healthyIds.push(borrow.key.id);
      } else {
        problems++;
        findings.push(...primaryFirst(classified.findings));
      }
    }
    if (!readable(view) && problems > 0) anyKeyUnreadable = true;
    if (healthyIds.length > 0) {
      healthyBorrows += healthyIds.length;
      findings.push(healthyFinding(serial, healthyIds, problems));
    }
  }
  if (!input.registry.readable) {
    const safe = !anyKeyUnreadable && findings.every((f) => f.kind !== "ledger-missing");
    findings.unshift(unreadableRegistryFinding(input.registry.reason, safe));
  }
  const { counts, worst } = tally(findings);
  return { now: input.now, findings, counts, healthyBorrows, worst, dummies, blockedProducts: blockedBy(dummies) };
}

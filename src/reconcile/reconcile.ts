import { isOutstanding } from "../vocabulary/index.js";
import { Cursor, compareSerials, firstId, firstSerial } from "./borrow-order.js";
import type { BorrowViews, Classified, ClassifyContext } from "./borrow-views.js";
import { classifyAbsent } from "./classify-absent.js";
import { classifyPresent } from "./classify-present.js";
import { healthyFinding, primaryFirst, unreadableRegistryFinding } from "./findings.js";
import { blockedBy, tally } from "./summary.js";
import type { DummyInfo, Finding, KeyBorrow, KeyView, ReconcileInput, ReconcileReport } from "./types.js";

/**
 * Key view × registry view × ledger view × host identity → findings, dummies and blocked
 * products. Pure and synchronous, and independent of the order of the input's lists: the report
 * lists keys by serial, and each key's borrows by id, each key's healthy finding last.
 *
 * Every view is put in borrow order (serial, then id) and the views are walked side by side, so
 * each borrow is met once with every view's record of it. The bridge hands the ledger and the
 * registry over in that order already, and a key lists its borrows by id, so the sorting costs
 * a check only.
 */
export function reconcile(input: ReconcileInput): ReconcileReport {
  const ctx = classifyContext(input);
  const findings: Finding[] = [];
  const dummies: DummyInfo[] = [];
  let healthyBorrows = 0;
  let anyKeyUnreadable = false;

  const views = bestViews(input.keys);
  const viewSerials = [...views.keys()].sort(compareSerials);
  const registry = new Cursor(input.registry.readable ? input.registry.borrows : []);
  const ledger = new Cursor(input.ledger);
  let nextView = 0;

  for (;;) {
    const serial = firstSerial(firstSerial(viewSerials[nextView], registry.serial()), ledger.serial());
    if (serial === undefined) break;
    if (viewSerials[nextView] === serial) nextView++;
    const view = views.get(serial);
    const readable = isReadable(view);
    const keys = new Cursor(readable ? view.borrows : [], serial);
    const healthyIds: number[] = [];
    let problems = 0;

    for (;;) {
      const id = firstId(firstId(keys.id(serial), registry.id(serial)), ledger.id(serial));
      if (id === undefined) break;
      const borrow: BorrowViews = { serial, id, key: undefined, reg: undefined, led: undefined, hist: undefined };
      borrow.key = keys.takeFirst(serial, id);
      borrow.reg = registry.takeFirst(serial, id);
      for (let row = ledger.take(serial, id); row !== undefined; row = ledger.take(serial, id)) {
        if (isOutstanding(row.state)) borrow.led ??= row;
        else borrow.hist ??= row;
      }
      const classified: Classified = readable ? classifyPresent(borrow, view, ctx) : classifyAbsent(borrow, view, ctx);
      if (classified.dummy !== undefined) dummies.push(classified.dummy);
      if (classified.findings.length === 0) {
        if (borrow.key !== undefined) healthyIds.push(borrow.key.id);
        continue;
      }
      problems++;
      for (const finding of primaryFirst(classified.findings)) findings.push(finding);
    }

    if (!readable && problems > 0) anyKeyUnreadable = true;
    if (healthyIds.length > 0) {
      healthyBorrows += healthyIds.length;
      findings.push(healthyFinding(serial, healthyIds, problems));
    }
  }

  if (!input.registry.readable) {
    // Rewriting the whole registry from the ledger is safe only when the ledger is known to hold every borrow.
    const ledgerComplete = !anyKeyUnreadable && !findings.some((f) => f.kind === "ledger-missing");
    findings.unshift(unreadableRegistryFinding(input.registry.reason, ledgerComplete));
  }
  const { counts, worst } = tally(findings);
  return { now: input.now, findings, counts, healthyBorrows, worst, dummies, blockedProducts: blockedBy(dummies) };
}

/** The view reconciled for each key: a key given more than once is reconciled with its most informative view. */
function bestViews(keys: readonly KeyView[]): Map<string, KeyView> {
  const views = new Map<string, KeyView>();
  for (const view of keys) {
    const seen = views.get(view.serial);
    if (seen === undefined || viewRank(view) > viewRank(seen)) views.set(view.serial, view);
  }
  return views;
}

function classifyContext(input: ReconcileInput): ClassifyContext {
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
  };
}

function isReadable(view: KeyView | undefined): view is KeyView & { borrows: KeyBorrow[] } {
  return view?.present === true && view.borrows !== undefined;
}

/** A view that lists the key's borrows says most, one of a key present but unreadable less, one of an absent key least. */
function viewRank(view: KeyView): number {
  return isReadable(view) ? 2 : view.present ? 1 : 0;
}

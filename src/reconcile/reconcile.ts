import { classifyAbsent } from "./classify-absent.js";
import { classifyPresent } from "./classify-present.js";
import { emitSlot, healthyFinding } from "./findings.js";
import { reconcileInOrder } from "./in-order.js";
import { classifyContext, finishReport, isReadable } from "./report.js";
import { type Scratch, withScratch } from "./scratch.js";
import type { Slot } from "./slot.js";
import type { Finding, KeyBorrow, LedgerBorrow, ReconcileInput, ReconcileReport, RegistryBorrow } from "./types.js";
import { Cursor, emptyBuckets, indexViews, keyBuckets } from "./view-index.js";

/**
 * Key view × registry view × ledger view × host identity → findings, dummies and blocked
 * products. Pure and synchronous; linear in the number of records for input in any order.
 */
export function reconcile(input: ReconcileInput): ReconcileReport {
  return reconcileInOrder(input) ?? reconcileIndexed(input);
}

/** The general path, for input in any order: index the views, then merge and classify per serial. */
export function reconcileIndexed(input: ReconcileInput): ReconcileReport {
  return withScratch((scratch) => reconcileWith(input, scratch));
}

function reconcileWith(input: ReconcileInput, scratch: Scratch): ReconcileReport {
  const index = indexViews(input, scratch);
  const ctx = classifyContext(input, []);

  const findings: Finding[] = [];
  let anyKeyUnreadable = false;
  let healthyBorrows = 0;
  // One slot and one cursor per source serve every borrow: nothing is allocated per record but findings.
  const slot: Slot = { serial: "", id: 0, key: undefined, reg: undefined, led: undefined, hist: undefined };
  const keys = new Cursor<KeyBorrow>();
  const regs = new Cursor<RegistryBorrow>();
  const leds = new Cursor<LedgerBorrow>();
  const hists = new Cursor<LedgerBorrow>();

  for (let g = 0; g < index.groups.length; g++) {
    const group = index.groups[g]!;
    const number = index.groupNumbers[g]!;
    const view = group.view;
    const readable = isReadable(view);
    keys.reset(readable ? keyBuckets(view.borrows, scratch) : emptyBuckets(), 0);
    regs.reset(index.registry, number);
    leds.reset(index.ledger, number * 2);
    hists.reset(index.ledger, number * 2 + 1);
    const healthyIds: number[] = readable ? new Array(view.borrows.length) : [];
    let healthyCount = 0;
    let problems = 0;
    slot.serial = group.serial;
    // A merge of the four id-ordered lists: linear, and independent of the input order.
    for (;;) {
      const id = Math.min(keys.nextId(), regs.nextId(), leds.nextId(), hists.nextId());
      if (id === Number.POSITIVE_INFINITY) break;
      slot.id = id;
      slot.key = keys.take(id);
      slot.reg = regs.take(id);
      slot.led = leds.take(id);
      slot.hist = hists.take(id);
      if (readable) classifyPresent(slot, view, ctx);
      else classifyAbsent(slot, view, ctx);
      if (ctx.out.length === 0) {
        if (slot.key !== undefined) healthyIds[healthyCount++] = slot.key.id;
        continue;
      }
      problems++;
      emitSlot(ctx.out, findings);
      // Not `length = 0`: V8 then drops the backing store and the next slot's push allocates a new one.
      while (ctx.out.length > 0) ctx.out.pop();
    }
    if (!readable && problems > 0) anyKeyUnreadable = true;
    if (healthyCount > 0) {
      healthyIds.length = healthyCount;
      healthyBorrows += healthyCount;
      findings.push(healthyFinding(group.serial, healthyIds, problems));
    }
  }

  return finishReport(input, findings, healthyBorrows, anyKeyUnreadable, ctx.dummies);
}

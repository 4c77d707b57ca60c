import { classifyAbsent } from "./classify-absent.js";
import { classifyPresent } from "./classify-present.js";
import { emitSlot, healthyFinding, unreadableRegistryFinding } from "./findings.js";
import { type Scratch, withScratch } from "./scratch.js";
import type { ClassifyContext, Slot } from "./slot.js";
import { blockedBy, tally } from "./summary.js";
import type {
  DummyInfo,
  Finding,
  KeyBorrow,
  KeyView,
  LedgerBorrow,
  ReconcileInput,
  ReconcileReport,
  RegistryBorrow,
} from "./types.js";
import { Cursor, emptyBuckets, indexViews, keyBuckets } from "./view-index.js";

function isReadable(view: KeyView | undefined): view is KeyView & { borrows: KeyBorrow[] } {
  return view?.present === true && view.borrows !== undefined;
}

/**
 * Key view × registry view × ledger view × host identity → findings, dummies and blocked
 * products. Pure and synchronous; linear in the number of records for input in any order.
 */
export function reconcile(input: ReconcileInput): ReconcileReport {
  return withScratch((scratch) => reconcileWith(input, scratch));
}

function reconcileWith(input: ReconcileInput, scratch: Scratch): ReconcileReport {
  const index = indexViews(input, scratch);
  const keyLastBinding = input.host.keyLastBinding;
  const ctx: ClassifyContext = {
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
    dummies: [] as DummyInfo[],
  };

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

  if (!input.registry.readable) {
    let ledgerMissing = 0;
    for (const f of findings) if (f.kind === "ledger-missing") ledgerMissing++;
    findings.unshift(unreadableRegistryFinding(input.registry.reason, !anyKeyUnreadable && ledgerMissing === 0));
  }
  const { counts, worst } = tally(findings);
  return {
    now: input.now,
    findings,
    counts,
    healthyBorrows,
    worst,
    dummies: ctx.dummies,
    blockedProducts: blockedBy(ctx.dummies),
  };
}

import { classifyAbsent } from "./classify-absent.js";
import { classifyPresent } from "./classify-present.js";
import { emitSlot, healthyFinding } from "./findings.js";
import { classifyContext, finishReport, isReadable, viewRank } from "./report.js";
import type { ClassifyContext, Slot } from "./slot.js";
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
import { isOutstandingRow } from "./view-index.js";

/**
 * Reconcile in one pass over views that are already in order: each record is read once, and
 * classified while it is still in the CPU's cache.
 *
 * The general path (`reconcile.ts`) first reads every record's serial and id into an index,
 * then reads every record again to classify it. Below 10 000 records the views stay in the
 * caches between the two reads; at 100 000 (some 30 MB of objects) each read misses them, so
 * the index costs as much again as the classification. The usual inputs are ordered already:
 * the ledger lists its rows by serial then id, a key lists its borrows by id, and a registry
 * read back lists each key's entries by id. Here the views are merged as they
 * come, as long as each one is strictly ascending in one of two orders (serial then id, or id
 * then serial); the first record out of order ends the attempt (nothing has been returned, and
 * nothing is shared with the caller but the input, which is only read) and the general path
 * runs instead.
 */
export function reconcileInOrder(input: ReconcileInput): ReconcileReport | undefined {
  if (input.keys.length > MAX_KEY_VIEWS) return undefined;
  for (const order of [bySerialThenId, byIdThenSerial]) {
    if (!looksInOrder(input.ledger, order)) continue;
    if (input.registry.readable && !looksInOrder(input.registry.borrows, order)) continue;
    const report = attempt(input, order);
    if (report !== undefined) return report;
  }
  return undefined;
}

/**
 * Pairs of records checked before an attempt: the first ones, then evenly spaced ones across
 * the list. A merge in the wrong order could otherwise classify a whole key's borrows before it
 * notices, say when a registry lists its keys' blocks in another serial order than the ledger.
 */
const SAMPLE = 64;

/** A cheap look at whether `records` ascend in `order`: certain only when it says no. */
export function looksInOrder(records: readonly { serial: string; id: number }[], order: Order): boolean {
  const n = records.length;
  const ascending = (i: number, j: number) => {
    const a = records[i]!;
    const b = records[j]!;
    return order(a.serial, a.id, b.serial, b.id) < 0;
  };
  for (let i = 1; i < Math.min(n, SAMPLE); i++) if (!ascending(i - 1, i)) return false;
  if (n <= SAMPLE) return true;
  const step = Math.floor(n / SAMPLE);
  for (let i = step; i < n; i += step) if (!ascending(i - step, i)) return false;
  return ascending(n - 2, n - 1);
}

const FEW_SERIALS = 8;

/** Each step compares the head of every key's list; beyond this many keys the general path is cheaper. */
const MAX_KEY_VIEWS = 16;

export type Order = (serialA: string, idA: number, serialB: string, idB: number) => number;

/** Negative when A comes first, 0 when equal; NaN for ids that are not comparable (out of order). */
export function bySerialThenId(serialA: string, idA: number, serialB: string, idB: number): number {
  if (serialA !== serialB) return serialA < serialB ? -1 : 1;
  return idA === idB ? 0 : idA < idB ? -1 : idA > idB ? 1 : Number.NaN;
}

export function byIdThenSerial(serialA: string, idA: number, serialB: string, idB: number): number {
  if (idA !== idB) return idA < idB ? -1 : idA > idB ? 1 : Number.NaN;
  return serialA === serialB ? 0 : serialA < serialB ? -1 : 1;
}

/** One serial's share of the report, collected while the views are merged. */
interface Group {
  serial: string;
  view: KeyView | undefined;
  readable: boolean;
  findings: Finding[];
  dummies: DummyInfo[];
  healthyIds: number[];
  healthyCount: number;
  problems: number;
  /** The key's borrow list while it is merged; undefined when the key is unreadable or holds none. */
  keys: KeySource | undefined;
}

function newGroup(serial: string, view: KeyView | undefined): Group {
  const readable = isReadable(view);
  return {
    serial,
    view,
    readable,
    findings: [],
    dummies: [],
    healthyIds: readable ? new Array(view.borrows.length) : [],
    healthyCount: 0,
    problems: 0,
    keys: undefined,
  };
}

/** The groups of the input's serials. */
class Groups {
  readonly all: Group[] = [];
  private readonly bySerial = new Map<string, Group>();

  constructor(views: readonly KeyView[]) {
    for (const view of views) {
      const group = this.find(view.serial);
      if (group === undefined) this.add(newGroup(view.serial, view));
      else if (group.view === undefined || viewRank(view) > viewRank(group.view)) {
        const better = newGroup(view.serial, view);
        this.all[this.all.indexOf(group)] = better;
        this.bySerial.set(view.serial, better);
      }
    }
  }

  /** A scan while there are few serials (the usual server, where records of a few keys interleave), a map beyond. */
  find(serial: string): Group | undefined {
    if (this.all.length > FEW_SERIALS) return this.bySerial.get(serial);
    for (const group of this.all) if (group.serial === serial) return group;
    return undefined;
  }

  of(serial: string): Group {
    return this.find(serial) ?? this.add(newGroup(serial, undefined));
  }

  private add(group: Group): Group {
    this.all.push(group);
    this.bySerial.set(group.serial, group);
    return group;
  }
}

/** A key's borrow list, walked in id order. */
interface KeySource {
  group: Group;
  borrows: readonly KeyBorrow[];
  at: number;
}

function attempt(input: ReconcileInput, order: Order): ReconcileReport | undefined {
  const groups = new Groups(input.keys);
  const keys: KeySource[] = [];
  for (const group of groups.all) {
    if (group.readable && group.view?.borrows !== undefined && group.view.borrows.length > 0) {
      group.keys = { group, borrows: group.view.borrows, at: 0 };
      keys.push(group.keys);
    }
  }
  const registry: readonly RegistryBorrow[] = input.registry.readable ? input.registry.borrows : [];
  const ledger: readonly LedgerBorrow[] = input.ledger;
  const ctx: ClassifyContext = classifyContext(input, []);
  const slot: Slot = { serial: "", id: 0, key: undefined, reg: undefined, led: undefined, hist: undefined };
  let reg = 0;
  let led = 0;
  let group: Group | undefined;

  for (;;) {
    // The smallest head among the views is the next borrow identity.
    let serial = "";
    let id = 0;
    let found = false;
    if (reg < registry.length) {
      const r = registry[reg]!;
      serial = r.serial;
      id = r.id;
      found = true;
    }
    if (led < ledger.length) {
      const l = ledger[led]!;
      if (!found || order(l.serial, l.id, serial, id) < 0) {
        serial = l.serial;
        id = l.id;
        found = true;
      }
    }
    let fromKey: KeySource | undefined;
    for (let k = 0; k < keys.length; k++) {
      const source = keys[k]!;
      if (source.at >= source.borrows.length) continue;
      const keyId = source.borrows[source.at]!.id;
      if (!found || order(source.group.serial, keyId, serial, id) < 0) {
        serial = source.group.serial;
        id = keyId;
        found = true;
        fromKey = source;
      }
    }
    if (!found) break;

    // Take each view's record of that identity; a view whose next record does not come strictly after it is out of order.
    if (fromKey !== undefined) group = fromKey.group;
    else if (group === undefined || group.serial !== serial) group = groups.of(serial);
    slot.serial = group.serial;
    slot.id = id;
    slot.key = undefined;
    slot.reg = undefined;
    slot.led = undefined;
    slot.hist = undefined;
    const source = group.keys;
    if (source !== undefined && source.at < source.borrows.length && source.borrows[source.at]!.id === id) {
      slot.key = source.borrows[source.at++]!;
      if (source.at < source.borrows.length && !(order(serial, id, serial, source.borrows[source.at]!.id) < 0)) {
        return undefined;
      }
    }
    if (reg < registry.length) {
      const r = registry[reg]!;
      if (r.id === id && r.serial === serial) {
        slot.reg = r;
        reg++;
        if (reg < registry.length && !(order(serial, id, registry[reg]!.serial, registry[reg]!.id) < 0)) {
          return undefined;
        }
      }
    }
    if (led < ledger.length) {
      const l = ledger[led]!;
      if (l.id === id && l.serial === serial) {
        if (isOutstandingRow(l)) slot.led = l;
        else slot.hist = l;
        led++;
        if (led < ledger.length && !(order(serial, id, ledger[led]!.serial, ledger[led]!.id) < 0)) {
          return undefined;
        }
      }
    }
    // Ids that equal nothing (NaN) would never be taken.
    if (slot.key === undefined && slot.reg === undefined && slot.led === undefined && slot.hist === undefined) {
      return undefined;
    }

    ctx.dummies = group.dummies;
    if (group.readable) classifyPresent(slot, group.view as KeyView, ctx);
    else classifyAbsent(slot, group.view, ctx);
    if (ctx.out.length === 0) {
      if (slot.key !== undefined) group.healthyIds[group.healthyCount++] = id;
      continue;
    }
    group.problems++;
    emitSlot(ctx.out, group.findings);
    // Not `length = 0`: V8 then drops the backing store and the next slot's push allocates a new one.
    while (ctx.out.length > 0) ctx.out.pop();
  }

  return assemble(input, groups.all);
}

/** Groups in serial order, each its findings in id order and then its healthy finding. */
function assemble(input: ReconcileInput, groups: Group[]): ReconcileReport {
  groups.sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  const findings: Finding[] = [];
  const dummies: DummyInfo[] = [];
  let healthyBorrows = 0;
  let anyKeyUnreadable = false;
  for (const group of groups) {
    for (const f of group.findings) findings.push(f);
    for (const d of group.dummies) dummies.push(d);
    if (!group.readable && group.problems > 0) anyKeyUnreadable = true;
    if (group.healthyCount > 0) {
      group.healthyIds.length = group.healthyCount;
      healthyBorrows += group.healthyCount;
      findings.push(healthyFinding(group.serial, group.healthyIds, group.problems));
    }
  }
  return finishReport(input, findings, healthyBorrows, anyKeyUnreadable, dummies);
}

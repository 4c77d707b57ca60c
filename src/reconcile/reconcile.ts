import type { BorrowLike } from "./format.js";
import { capitalize, describeBorrow, formatTime } from "./format.js";
import { KIND_PRIORITY, SEVERITY_RANK } from "./kinds.js";
import type {
  BlockedProduct,
  DummyInfo,
  Finding,
  FindingKind,
  KeyBorrow,
  KeyView,
  LedgerBorrow,
  ReconcileInput,
  ReconcileReport,
  RegistryBorrow,
  Repair,
  Severity,
} from "./types.js";
import { FINDING_KINDS } from "./types.js";

/** K4's default settle window, used for serials the input has no key view for. */
const DEFAULT_SETTLE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** One borrow identity (serial/id) as seen by each view. */
interface Slot {
  serial: string;
  id: number;
  key: KeyBorrow | undefined;
  reg: RegistryBorrow | undefined;
  /** The ledger row while outstanding (active, returning, dummy). */
  led: LedgerBorrow | undefined;
  /** A settled, returned or rolled-back ledger row. */
  hist: LedgerBorrow | undefined;
}

/** Each view's records of one serial; the caller's objects, never copies. */
interface SerialGroup {
  serial: string;
  view: KeyView | undefined;
  keys: readonly KeyBorrow[];
  regs: RegistryBorrow[];
  leds: LedgerBorrow[];
  hists: LedgerBorrow[];
}

interface Context {
  hostBinding: string;
  keyMoved: (serial: string) => boolean;
  registryReadable: boolean;
  now: number;
  tagDerivable: boolean;
  derivedTags: Record<string, string> | undefined;
}

const HEALTHY_REPAIR: Repair = Object.freeze({ action: "none", safe: true, description: "Nothing to do." });

function isReadable(view: KeyView | undefined): view is KeyView & { borrows: KeyBorrow[] } {
  return view?.present === true && view.borrows !== undefined;
}

function viewRank(view: KeyView): number {
  return isReadable(view) ? 2 : view.present ? 1 : 0;
}

/** Deterministic choice between duplicates, so the report does not depend on input order. */
function pickStable<T>(current: T | undefined, candidate: T): T {
  if (current === undefined) return candidate;
  return JSON.stringify(candidate) < JSON.stringify(current) ? candidate : current;
}

function groupOf(groups: Map<string, SerialGroup>, serial: string): SerialGroup {
  let group = groups.get(serial);
  if (group === undefined) {
    group = { serial, view: undefined, keys: [], regs: [], leds: [], hists: [] };
    groups.set(serial, group);
  }
  return group;
}

/**
 * Splits records by serial — and, when `split` is given, into outstanding and history — into
 * arrays sized by a first counting pass, so no array grows and copies itself on the way.
 * Records usually arrive grouped by serial, so the group lookup runs once per run of a serial.
 */
function partition<T extends { serial: string }>(
  groups: Map<string, SerialGroup>,
  records: readonly T[],
  split: ((record: T) => boolean) | undefined,
): Map<SerialGroup, { main: T[]; history: T[] }> {
  const counts = new Map<SerialGroup, number[]>();
  let group: SerialGroup | undefined;
  let count: number[] = [0, 0];
  for (const record of records) {
    if (group?.serial !== record.serial) {
      group = groupOf(groups, record.serial);
      const known = counts.get(group);
      if (known === undefined) {
        count = [0, 0];
        counts.set(group, count);
      } else count = known;
    }
    count[split !== undefined && !split(record) ? 1 : 0]!++;
  }
  const lists = new Map<SerialGroup, { main: T[]; history: T[] }>();
  for (const [g, c] of counts) lists.set(g, { main: new Array<T>(c[0]!), history: new Array<T>(c[1]!) });
  let main: T[] = [];
  let history: T[] = [];
  let at = [0, 0];
  const cursorsByGroup = new Map<SerialGroup, number[]>();
  let into: SerialGroup | undefined;
  for (const record of records) {
    if (into?.serial !== record.serial) {
      into = groups.get(record.serial)!;
      const list = lists.get(into)!;
      main = list.main;
      history = list.history;
      let cursor = cursorsByGroup.get(into);
      if (cursor === undefined) {
        cursor = [0, 0];
        cursorsByGroup.set(into, cursor);
      }
      at = cursor;
    }
    if (split !== undefined && !split(record)) history[at[1]!++] = record;
    else main[at[0]!++] = record;
  }
  return lists;
}

function byId(a: { id: number }, b: { id: number }): number {
  return a.id - b.id;
}

/** The list ordered by id; TimSort is linear on the usual, already sorted, lists. Never mutates `list`. */
function sortedById<T extends { id: number }>(list: readonly T[], owned: boolean): readonly T[] {
  for (let i = 1; i < list.length; i++) {
    if (list[i - 1]!.id > list[i]!.id) return (owned ? (list as T[]) : list.slice()).sort(byId);
  }
  return list;
}

/** The record with `id` at `list[cursor.at]` (duplicates resolved stably), advancing the cursor past them. */
function take<T extends { id: number }>(list: readonly T[], cursor: { at: number }, id: number): T | undefined {
  let found: T | undefined;
  while (cursor.at < list.length && list[cursor.at]!.id === id) found = pickStable(found, list[cursor.at++]!);
  return found;
}

function isOutstanding(row: LedgerBorrow): boolean {
  return row.state === "active" || row.state === "returning" || row.state === "dummy";
}

function emptyCounts(): Record<FindingKind, number> {
  const counts = {} as Record<FindingKind, number>;
  for (const kind of FINDING_KINDS) counts[kind] = 0;
  return counts;
}

function finding(
  kind: FindingKind,
  severity: Severity,
  message: string,
  repair: Repair,
  slot: Slot,
  product: number,
  client: string,
): Finding {
  return { kind, severity, message, repair, primary: false, borrowId: slot.id, serial: slot.serial, product, client };
}

/**
 * The borrow being classified and its findings. Reconcile is synchronous, so one slot and one
 * buffer serve every borrow: nothing is allocated per record but the findings themselves.
 */
const slot: Slot = { serial: "", id: 0, key: undefined, reg: undefined, led: undefined, hist: undefined };
const scratch: Finding[] = [];
/** Ids of the current serial's healthy borrows: they share one finding, so a healthy borrow costs no object. */
let healthyIds: number[] = [];
let healthyCount = 0;
const cursors = { key: { at: 0 }, reg: { at: 0 }, led: { at: 0 }, hist: { at: 0 } };

export function reconcile(input: ReconcileInput): ReconcileReport {
  const groups = new Map<string, SerialGroup>();

  for (const view of input.keys) {
    const group = groupOf(groups, view.serial);
    if (group.view === undefined || viewRank(view) > viewRank(group.view)) group.view = view;
  }
  for (const group of groups.values()) {
    if (isReadable(group.view)) group.keys = group.view.borrows;
  }
  if (input.registry.readable) {
    for (const [group, list] of partition(groups, input.registry.borrows, undefined)) group.regs = list.main;
  }
  for (const [group, list] of partition(groups, input.ledger, isOutstanding)) {
    group.leds = list.main;
    group.hists = list.history;
  }

  const keyLastBinding = input.host.keyLastBinding;
  const ctx: Context = {
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

  const findings: Finding[] = [];
  const dummies: DummyInfo[] = [];
  let anyKeyUnreadable = false;
  let ledgerMissing = 0;
  let healthyBorrows = 0;

  const serials = Array.from(groups.keys()).sort();
  for (const serial of serials) {
    const group = groups.get(serial)!;
    const readable = isReadable(group.view);
    // A merge of the four id-ordered lists: linear, and independent of the input order.
    const keys = sortedById(group.keys, false);
    const regs = sortedById(group.regs, true);
    const leds = sortedById(group.leds, true);
    const hists = sortedById(group.hists, true);
    cursors.key.at = cursors.reg.at = cursors.led.at = cursors.hist.at = 0;
    healthyIds = new Array(keys.length);
    healthyCount = 0;
    let problems = 0;
    slot.serial = serial;
    for (;;) {
      let id = Number.POSITIVE_INFINITY;
      if (cursors.key.at < keys.length) id = Math.min(id, keys[cursors.key.at]!.id);
      if (cursors.reg.at < regs.length) id = Math.min(id, regs[cursors.reg.at]!.id);
      if (cursors.led.at < leds.length) id = Math.min(id, leds[cursors.led.at]!.id);
      if (cursors.hist.at < hists.length) id = Math.min(id, hists[cursors.hist.at]!.id);
      if (!Number.isFinite(id)) break;
      slot.id = id;
      slot.key = take(keys, cursors.key, id);
      slot.reg = take(regs, cursors.reg, id);
      slot.led = take(leds, cursors.led, id);
      slot.hist = take(hists, cursors.hist, id);
      scratch.length = 0;
      if (readable) classifyPresent(slot, group.view!, ctx, dummies);
      else classifyAbsent(slot, group.view, ctx, dummies);
      if (scratch.length === 0) continue;
      problems++;
      emitSlot(findings);
    }
    if (!readable && problems > 0) anyKeyUnreadable = true;
    healthyIds.length = healthyCount;
    if (healthyCount > 0) {
      healthyBorrows += healthyIds.length;
      findings.push(healthyFinding(serial, healthyIds, problems));
    }
  }
  for (const f of findings) if (f.kind === "ledger-missing") ledgerMissing++;

  if (!input.registry.readable) {
    const safe = !anyKeyUnreadable && ledgerMissing === 0;
    findings.unshift({
      kind: "registry-missing",
      severity: "warning",
      message:
        `The registry cannot be read (${input.registry.reason}); ` +
        (safe
          ? "its borrow entries can be rewritten from the ledger."
          : "rewriting it from the ledger must wait until every key is readable and the ledger holds every borrow."),
      repair: {
        action: "restore-registry",
        safe,
        description: "Rewrite every registry borrow entry from the ledger.",
      },
      primary: false,
    });
  }

  const counts = emptyCounts();
  let worst: Severity = "info";
  for (const f of findings) {
    counts[f.kind]++;
    if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst]) worst = f.severity;
  }
  return {
    now: input.now,
    findings,
    counts,
    healthyBorrows,
    worst,
    dummies,
    blockedProducts: blockedBy(dummies),
  };
}

function healthyFinding(serial: string, ids: number[], problems: number): Finding {
  const n = ids.length;
  const what = n === 1 ? `borrow ${ids[0]} is` : `${problems > 0 ? "the other " : "all "}${n} borrows are`;
  return {
    kind: "healthy",
    severity: "info",
    message: `On key ${serial}, ${what} consistent in the key, the registry and the ledger, and bound to this host.`,
    repair: HEALTHY_REPAIR,
    primary: true,
    serial,
    borrowIds: ids,
  };
}

/** Moves the scratch findings of one slot to the output, the primary one first. */
function emitSlot(out: Finding[]): void {
  if (scratch.length === 1) {
    const only = scratch[0]!;
    only.primary = true;
    out.push(only);
    return;
  }
  scratch.sort(
    (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || KIND_PRIORITY[a.kind] - KIND_PRIORITY[b.kind],
  );
  scratch[0]!.primary = true;
  const rest = scratch.slice(1).sort((a, b) => KIND_PRIORITY[a.kind] - KIND_PRIORITY[b.kind]);
  out.push(scratch[0]!, ...rest);
}

function blockedBy(dummies: readonly DummyInfo[]): BlockedProduct[] {
  const byProduct = new Map<string, BlockedProduct>();
  for (const d of dummies) {
    const key = `${d.serial}\u0000${d.product}`;
    const seen = byProduct.get(key);
    if (seen === undefined) byProduct.set(key, { serial: d.serial, product: d.product, until: d.dummyUntil });
    else if (seen.until !== null) seen.until = d.dummyUntil === null ? null : Math.max(seen.until, d.dummyUntil);
  }
  return Array.from(byProduct.values()).sort((a, b) =>
    a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.product - b.product,
  );
}

function dummyFinding(slot: Slot, product: number, client: string, until: number | null, now: number): Finding {
  const cleared = until !== null && until <= now;
  const message = cleared
    ? `Borrow ${slot.id} of product ${product} by client "${client}" on key ${slot.serial} is a borrow dummy that ` +
      `cleared on ${formatTime(until)}; borrowing of product ${product} resumes once the key drops it.`
    : `Borrow ${slot.id} of product ${product} by client "${client}" on key ${slot.serial} is a borrow dummy; ` +
      `nothing can be done: borrowing of product ${product} is blocked until ${formatTime(until)}.`;
  return finding(
    "dummy",
    cleared ? "info" : "warning",
    message,
    { action: "none", safe: true, description: `Wait until ${formatTime(until)}, when the key clears the dummy.` },
    slot,
    product,
    client,
  );
}

function classifyPresent(slot: Slot, view: KeyView, ctx: Context, dummies: DummyInfo[]): void {
  const keyNow = view.keyTimeMs ?? ctx.now;
  const k = slot.key;
  const l = slot.led;
  const r = slot.reg;

  if (k === undefined) {
    if (l !== undefined) {
      const expected = l.state !== "active" || keyNow >= l.expiresAt;
      scratch.push(
        finding(
          "ledger-orphan",
          expected ? "info" : "warning",
          `${capitalize(describeBorrow(slot.serial, l))} is outstanding in the ledger but the key no longer holds it: ` +
            `the key has settled it${expected ? "" : " before its expiry, although keybridge did not return it"}.`,
          { action: "mark-ledger-settled", safe: true, description: "Mark the ledger row settled, as the key did." },
          slot,
          l.product,
          l.client,
        ),
      );
    }
    if (r !== undefined) {
      scratch.push(
        finding(
          "registry-extra",
          "info",
          `The registry lists ${describeBorrow(slot.serial, r)}, which the key does not hold` +
            (l === undefined && slot.hist === undefined ? " and the ledger does not know." : " any more."),
          {
            action: "remove-registry-entry",
            safe: true,
            description: "Remove the stale registry entry; the key confirms it has no such borrow.",
          },
          slot,
          r.product,
          r.client,
        ),
      );
    }
    return;
  }

  if (k.state === "dummy") {
    const until = k.dummyUntil ?? null;
    dummies.push({ serial: slot.serial, product: k.product, borrowId: k.id, dummyUntil: until });
    scratch.push(dummyFinding(slot, k.product, k.client, until, keyNow));
    return;
  }

  const derived = ctx.derivedTags?.[k.opId];
  const tagRecoverable = r !== undefined || derived !== undefined || ctx.tagDerivable;
  let ledgerHoldsTag = l !== undefined;

  if (l === undefined) {
    const tagSource = r !== undefined ? "registry" : tagRecoverable ? "derived" : undefined;
    const what = capitalize(describeBorrow(slot.serial, k));
    const message =
      tagSource === "registry"
        ? `${what} is on the key but missing from the ledger; the row can be rebuilt from the key and the registry.`
        : tagSource === "derived"
          ? `${what} is on the key but missing from the ledger and the registry; its tag is derived from the ` +
            `server secret, so both can be rebuilt.`
          : `${what} is on the key but missing from the ledger and the registry, and its tag cannot be recovered: ` +
            `returning or settling it will create a borrow dummy.`;
    scratch.push(
      finding(
        "ledger-missing",
        tagSource === undefined ? "critical" : "warning",
        message,
        tagSource === undefined
          ? {
              action: "none",
              safe: false,
              description: `The tag is lost; expect product ${k.product} to be blocked for one borrow period after ${formatTime(k.expiresAt)}.`,
            }
          : {
              action: "rebuild-ledger",
              safe: true,
              description: `Rebuild the ledger row from the key and the ${tagSource === "registry" ? "registry's" : "derived"} tag.`,
              tagSource,
            },
        slot,
        k.product,
        k.client,
      ),
    );
    ledgerHoldsTag = false;
  } else {
    const changed = changedFields(k, l);
    if (changed !== "") {
      scratch.push(
        finding(
          "ledger-changed",
          "warning",
          `The ledger row of ${describeBorrow(slot.serial, k)} differs from the key in ${changed}; the key is right.`,
          {
            action: "rebuild-ledger",
            safe: true,
            description: "Rewrite the ledger row from the key, keeping the ledger's tag.",
            tagSource: "ledger",
          },
          slot,
          k.product,
          k.client,
        ),
      );
    }
  }

  if (ctx.registryReadable) {
    if (r === undefined) {
      if (tagRecoverable || l !== undefined) {
        scratch.push(registryMissing(slot, k));
      }
    } else {
      const changed = changedFields(k, r);
      if (changed !== "") {
        scratch.push(
          finding(
            "registry-changed",
            "warning",
            `The registry entry of ${describeBorrow(slot.serial, k)} differs from the key in ${changed}.`,
            {
              action: "restore-registry",
              safe: true,
              description: "Rewrite the registry entry from the key and the ledger.",
            },
            slot,
            k.product,
            k.client,
          ),
        );
      }
      if (l !== undefined && r.tag !== l.tag) scratch.push(tagMismatch(slot, k));
    }
  }

  if (k.binding !== ctx.hostBinding) {
    const moved = ctx.keyMoved(slot.serial);
    scratch.push(
      finding(
        "binding-mismatch",
        "critical",
        `${capitalize(describeBorrow(slot.serial, k))} is bound to another host identity ` +
          (moved
            ? "because the key was moved here from another computer"
            : "because this computer's IP address, hostname or machine id changed") +
          `; returning it now would create a borrow dummy.`,
        {
          action: "migrate",
          safe: ledgerHoldsTag,
          description: ledgerHoldsTag
            ? "Rebind the borrow to this host with the proof held in the ledger (keybridge migrate)."
            : "Rebind the borrow to this host once the ledger holds its tag (rebuild the ledger row first).",
        },
        slot,
        k.product,
        k.client,
      ),
    );
  }

  if (keyNow >= k.expiresAt) {
    const deadline = k.expiresAt + view.settleWindowMs;
    const bindingMatches = k.binding === ctx.hostBinding;
    const safe = bindingMatches && ledgerHoldsTag;
    const close = deadline - keyNow <= view.settleWindowMs / 4;
    scratch.push(
      finding(
        "expired-unsettled",
        close || !safe ? "critical" : "warning",
        `${capitalize(describeBorrow(slot.serial, k))} has expired and is not settled; the key turns it into a borrow ` +
          `dummy if it is not settled by ${formatTime(deadline)} (key time).`,
        {
          action: "settle-now",
          safe,
          description: safe
            ? "Settle the borrow now with the ledger's binding and tag."
            : bindingMatches
              ? "Settle the borrow once the ledger holds its tag (rebuild the ledger row first)."
              : "Run keybridge migrate first; settling with another host's binding would create a dummy.",
        },
        slot,
        k.product,
        k.client,
      ),
    );
  }

  if (scratch.length === 0) healthyIds[healthyCount++] = k.id;
}

function classifyAbsent(slot: Slot, view: KeyView | undefined, ctx: Context, dummies: DummyInfo[]): void {
  const keyNow = view?.keyTimeMs ?? ctx.now;
  const l = slot.led;
  const r = slot.reg;
  const why = view?.present ? "cannot be read" : "is not present";

  if (l !== undefined && l.state === "dummy") {
    const until = l.dummyUntil ?? null;
    if (until === null || until > ctx.now) {
      dummies.push({ serial: slot.serial, product: l.product, borrowId: l.id, dummyUntil: until });
    }
    scratch.push(dummyFinding(slot, l.product, l.client, until, ctx.now));
    return;
  }

  if (l !== undefined) {
    const expired = keyNow >= l.expiresAt;
    const deadline = l.expiresAt + (view?.settleWindowMs ?? DEFAULT_SETTLE_WINDOW_MS);
    scratch.push(
      finding(
        "key-absent",
        expired ? "critical" : "warning",
        `Key ${slot.serial} ${why}, so ${describeBorrow(slot.serial, l)} cannot be returned until the key is back` +
          (expired
            ? `; it has expired: plug the key back in before ${formatTime(deadline)} or it becomes a borrow dummy.`
            : "."),
        { action: "wait", safe: false, description: `Plug key ${slot.serial} back into this computer.` },
        slot,
        l.product,
        l.client,
      ),
    );
    if (ctx.registryReadable) {
      if (r === undefined) scratch.push(registryMissing(slot, l));
      else {
        const changed = changedFields(l, r);
        if (changed !== "") {
          scratch.push(
            finding(
              "registry-changed",
              "warning",
              `The registry entry of ${describeBorrow(slot.serial, l)} differs from the ledger in ${changed}.`,
              { action: "restore-registry", safe: true, description: "Rewrite the registry entry from the ledger." },
              slot,
              l.product,
              l.client,
            ),
          );
        }
        if (r.tag !== l.tag) scratch.push(tagMismatch(slot, l));
      }
    }
    if (l.binding !== ctx.hostBinding) {
      scratch.push(
        finding(
          "binding-mismatch",
          "critical",
          `${capitalize(describeBorrow(slot.serial, l))} is bound to another host identity; once key ${slot.serial} is back, ` +
            `run keybridge migrate before returning it.`,
          { action: "migrate", safe: false, description: "Rebind the borrow to this host once the key is back." },
          slot,
          l.product,
          l.client,
        ),
      );
    }
    return;
  }

  if (r !== undefined) {
    if (slot.hist !== undefined) {
      scratch.push(
        finding(
          "registry-extra",
          "info",
          `The registry lists ${describeBorrow(slot.serial, r)}, which the ledger records as ${slot.hist.state}; ` +
            `it will be removed once key ${slot.serial} confirms it.`,
          { action: "wait", safe: false, description: `Remove the entry once key ${slot.serial} is back.` },
          slot,
          r.product,
          r.client,
        ),
      );
    } else {
      scratch.push(
        finding(
          "key-absent",
          keyNow >= r.expiresAt ? "critical" : "warning",
          `Key ${slot.serial} ${why}; the registry lists ${describeBorrow(slot.serial, r)}, which the ledger does not know: ` +
            `keep the entry, the ledger row is rebuilt when the key is back.`,
          { action: "wait", safe: false, description: `Plug key ${slot.serial} back into this computer.` },
          slot,
          r.product,
          r.client,
        ),
      );
    }
  }
}

function registryMissing(slot: Slot, record: BorrowLike): Finding {
  return finding(
    "registry-missing",
    "warning",
    `The registry entry of ${describeBorrow(slot.serial, record)} is missing; it can be rewritten from the ledger.`,
    { action: "restore-registry", safe: true, description: "Rewrite the registry entry from the ledger." },
    slot,
    record.product,
    record.client,
  );
}

function tagMismatch(slot: Slot, record: BorrowLike): Finding {
  return finding(
    "tag-mismatch",
    "warning",
    `The registry holds another tag for ${describeBorrow(slot.serial, record)} than the ledger; the ledger's tag is the one the key accepts.`,
    { action: "restore-registry", safe: true, description: "Rewrite the registry entry with the ledger's tag." },
    slot,
    record.product,
    record.client,
  );
}

interface Fields {
  product: number;
  client: string;
  issuedAt: number;
  expiresAt: number;
  binding: string;
  opId?: string;
}

/** Names of the fields that differ, comma-separated; "" when none. */
function changedFields(expected: Fields, actual: Fields): string {
  if (
    expected.product === actual.product &&
    expected.client === actual.client &&
    expected.issuedAt === actual.issuedAt &&
    expected.expiresAt === actual.expiresAt &&
    expected.binding === actual.binding &&
    (expected.opId === undefined || actual.opId === undefined || expected.opId === actual.opId)
  ) {
    return "";
  }
  const names: string[] = [];
  if (expected.product !== actual.product) names.push("product");
  if (expected.client !== actual.client) names.push("client");
  if (expected.issuedAt !== actual.issuedAt) names.push("issue date");
  if (expected.expiresAt !== actual.expiresAt) names.push("expiry date");
  if (expected.binding !== actual.binding) names.push("host binding");
  if (expected.opId !== undefined && actual.opId !== undefined && expected.opId !== actual.opId)
    names.push("operation id");
  return names.join(", ");
}

import { SEVERITY_RANK, type Severity } from "../vocabulary/index.js";
import type { BorrowLike } from "./format.js";
import { describeBorrow, formatTime } from "./format.js";
import { KIND_PRIORITY } from "./kinds.js";
import type { Slot } from "./slot.js";
import type { Finding, FindingKind, Repair } from "./types.js";

/** Repairs without per-borrow text are shared: frozen, so one report cannot change another's. */
const HEALTHY_REPAIR: Repair = Object.freeze({ action: "none", safe: true, description: "Nothing to do." });
export const RESTORE_FROM_LEDGER: Repair = Object.freeze({
  action: "restore-registry",
  safe: true,
  description: "Rewrite the registry entry from the ledger.",
});
const RESTORE_LEDGER_TAG: Repair = Object.freeze({
  action: "restore-registry",
  safe: true,
  description: "Rewrite the registry entry with the ledger's tag.",
});

/** The constant repairs of the classifiers, shared for the same reason. */
export const MARK_LEDGER_SETTLED: Repair = Object.freeze({
  action: "mark-ledger-settled",
  safe: true,
  description: "Mark the ledger row settled, as the key did.",
});
export const REMOVE_CONFIRMED_ENTRY: Repair = Object.freeze({
  action: "remove-registry-entry",
  safe: true,
  description: "Remove the stale registry entry; the key confirms it has no such borrow.",
});
export const REBUILD_LEDGER_FROM_KEY: Repair = Object.freeze({
  action: "rebuild-ledger",
  safe: true,
  description: "Rewrite the ledger row from the key, keeping the ledger's tag.",
  tagSource: "ledger",
});
export const RESTORE_FROM_KEY: Repair = Object.freeze({
  action: "restore-registry",
  safe: true,
  description: "Rewrite the registry entry from the key and the ledger.",
});
export const MIGRATE_WITH_PROOF: Repair = Object.freeze({
  action: "migrate",
  safe: true,
  description: "Rebind the borrow to this host with the proof held in the ledger (keybridge migrate).",
});
export const MIGRATE_AFTER_REBUILD: Repair = Object.freeze({
  action: "migrate",
  safe: false,
  description: "Rebind the borrow to this host once the ledger holds its tag (rebuild the ledger row first).",
});
export const MIGRATE_WHEN_KEY_BACK: Repair = Object.freeze({
  action: "migrate",
  safe: false,
  description: "Rebind the borrow to this host once the key is back.",
});
export const SETTLE_NOW: Repair = Object.freeze({
  action: "settle-now",
  safe: true,
  description: "Settle the borrow now with the ledger's binding and tag.",
});
export const SETTLE_AFTER_REBUILD: Repair = Object.freeze({
  action: "settle-now",
  safe: false,
  description: "Settle the borrow once the ledger holds its tag (rebuild the ledger row first).",
});
export const SETTLE_AFTER_MIGRATE: Repair = Object.freeze({
  action: "settle-now",
  safe: false,
  description: "Run keybridge migrate first; settling with another host's binding would create a dummy.",
});

export function finding(
  kind: FindingKind,
  severity: Severity,
  message: string,
  repair: Repair,
  slot: Slot,
  product: number,
  client: string,
): Finding {
  flatten(message);
  return { kind, severity, message, repair, primary: false, borrowId: slot.id, serial: slot.serial, product, client };
}

/**
 * V8 builds a template string as a tree of partial strings (some 25 small objects for one
 * message); reading a character collapses it into one flat string. A report of 100 000 borrows
 * then holds less than half the memory, and the garbage collector has that much less to copy.
 */
function flatten(text: string): void {
  text.charCodeAt(0);
}

/** One finding for all healthy borrows of a key, so a healthy borrow costs no object. */
export function healthyFinding(serial: string, ids: number[], problems: number): Finding {
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

export function unreadableRegistryFinding(reason: string, safe: boolean): Finding {
  return {
    kind: "registry-missing",
    severity: "warning",
    message:
      `The registry cannot be read (${reason}); ` +
      (safe
        ? "its borrow entries can be rewritten from the ledger."
        : "rewriting it from the ledger must wait until every key is readable and the ledger holds every borrow."),
    repair: {
      action: "restore-registry",
      safe,
      description: "Rewrite every registry borrow entry from the ledger.",
    },
    primary: false,
  };
}

export function dummyFinding(slot: Slot, product: number, client: string, until: number | null, now: number): Finding {
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

export function registryMissing(slot: Slot, record: BorrowLike): Finding {
  return finding(
    "registry-missing",
    "warning",
    `The registry entry of ${describeBorrow(slot.serial, record)} is missing; it can be rewritten from the ledger.`,
    RESTORE_FROM_LEDGER,
    slot,
    record.product,
    record.client,
  );
}

export function tagMismatch(slot: Slot, record: BorrowLike): Finding {
  return finding(
    "tag-mismatch",
    "warning",
    `The registry holds another tag for ${describeBorrow(slot.serial, record)} than the ledger; the ledger's tag is the one the key accepts.`,
    RESTORE_LEDGER_TAG,
    slot,
    record.product,
    record.client,
  );
}

/** Moves one slot's findings to the output, the primary one (most severe, then by kind) first. */
export function emitSlot(found: Finding[], out: Finding[]): void {
  if (found.length === 1) {
    const only = found[0]!;
    only.primary = true;
    out.push(only);
    return;
  }
  found.sort(
    (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || KIND_PRIORITY[a.kind] - KIND_PRIORITY[b.kind],
  );
  found[0]!.primary = true;
  const rest = found.slice(1).sort((a, b) => KIND_PRIORITY[a.kind] - KIND_PRIORITY[b.kind]);
  out.push(found[0]!, ...rest);
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
export function changedFields(expected: Fields, actual: Fields): string {
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

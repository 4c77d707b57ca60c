import { SEVERITY_RANK, type Severity } from "../vocabulary/index.js";
import type { BorrowViews } from "./borrow-views.js";
import type { BorrowLike } from "./format.js";
import { describeBorrow, formatTime } from "./format.js";
import { KIND_PRIORITY } from "./kinds.js";
import type { Finding, FindingKind, Repair } from "./types.js";

/** Repairs whose text names no borrow are shared by the findings that offer them: frozen, so no caller changes all. */
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
  borrow: BorrowViews,
  product: number,
  client: string,
): Finding {
  return {
    kind,
    severity,
    message,
    repair,
    primary: false,
    borrowId: borrow.id,
    serial: borrow.serial,
    product,
    client,
  };
}

/** One finding for all healthy borrows of a key: what an admin needs to know of them is that they are fine. */
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

export function dummyFinding(
  borrow: BorrowViews,
  product: number,
  client: string,
  until: number | null,
  now: number,
): Finding {
  const cleared = until !== null && until <= now;
  const message = cleared
    ? `Borrow ${borrow.id} of product ${product} by client "${client}" on key ${borrow.serial} is a borrow dummy that ` +
      `cleared on ${formatTime(until)}; borrowing of product ${product} resumes once the key drops it.`
    : `Borrow ${borrow.id} of product ${product} by client "${client}" on key ${borrow.serial} is a borrow dummy; ` +
      `nothing can be done: borrowing of product ${product} is blocked until ${formatTime(until)}.`;
  return finding(
    "dummy",
    cleared ? "info" : "warning",
    message,
    { action: "none", safe: true, description: `Wait until ${formatTime(until)}, when the key clears the dummy.` },
    borrow,
    product,
    client,
  );
}

export function registryMissing(borrow: BorrowViews, record: BorrowLike): Finding {
  return finding(
    "registry-missing",
    "warning",
    `The registry entry of ${describeBorrow(borrow.serial, record)} is missing; it can be rewritten from the ledger.`,
    RESTORE_FROM_LEDGER,
    borrow,
    record.product,
    record.client,
  );
}

export function tagMismatch(borrow: BorrowViews, record: BorrowLike): Finding {
  return finding(
    "tag-mismatch",
    "warning",
    `The registry holds another tag for ${describeBorrow(borrow.serial, record)} than the ledger; the ledger's tag is the one the key accepts.`,
    RESTORE_LEDGER_TAG,
    borrow,
    record.product,
    record.client,
  );
}

/**
 * One borrow's findings in report order: the primary one first (the most severe; among equals,
 * the one of the most authoritative view, KIND_PRIORITY), then the others by kind.
 */
export function primaryFirst(found: readonly Finding[]): Finding[] {
  const [primary, ...others] = [...found].sort(
    (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || KIND_PRIORITY[a.kind] - KIND_PRIORITY[b.kind],
  );
  if (primary === undefined) return [];
  primary.primary = true;
  return [primary, ...others.sort((a, b) => KIND_PRIORITY[a.kind] - KIND_PRIORITY[b.kind])];
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

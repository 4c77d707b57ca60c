import { formatTime } from "../../reconcile/index.js";
import type { BorrowObservation } from "./observations.js";

/** How many borrows a message names before it says "and N more". */
const NAMED_LIMIT = 5;

/** `borrow 2-1500002-100532-0 (client "ws-17", user "anna", license 2-1500002 100532/18, expires 2026-01-31 12:00 UTC)` */
export function describeCodeMeterBorrow(borrow: BorrowObservation): string {
  const who = [
    borrow.client === null ? null : `client "${borrow.client}"`,
    borrow.user === null ? null : `user "${borrow.user}"`,
  ].filter((part) => part !== null);
  const license = `license ${borrow.serial ?? "?"} ${borrow.firmCode ?? "?"}/${borrow.productCode ?? "?"}`;
  return `borrow ${borrow.borrowId} (${[...who, license, expiryText(borrow.expiresAt)].join(", ")})`;
}

export function expiryText(expiresAt: number | null): string {
  return expiresAt === null ? "never expires" : `expires ${formatTime(expiresAt)}`;
}

/** Soonest first, so the message names first whom to call first. */
export function byExpiry(a: BorrowObservation, b: BorrowObservation): number {
  const ax = a.expiresAt ?? Number.POSITIVE_INFINITY;
  const bx = b.expiresAt ?? Number.POSITIVE_INFINITY;
  return ax - bx || (a.borrowId < b.borrowId ? -1 : a.borrowId > b.borrowId ? 1 : 0);
}

export function describeCodeMeterBorrows(borrows: readonly BorrowObservation[]): string {
  const sorted = [...borrows].sort(byExpiry);
  const named = sorted.slice(0, NAMED_LIMIT).map(describeCodeMeterBorrow);
  const rest = sorted.length - named.length;
  return rest > 0 ? `${named.join(", ")} and ${rest} more` : named.join(", ");
}

/** The last expiry (null when one never expires or there is none). */
export function lastEnd(borrows: readonly BorrowObservation[]): number | null {
  let last: number | null = null;
  for (const borrow of borrows) {
    if (borrow.expiresAt === null) return null;
    last = last === null ? borrow.expiresAt : Math.max(last, borrow.expiresAt);
  }
  return last;
}

export function firstEnd(borrows: readonly BorrowObservation[]): number | null {
  let first: number | null = null;
  for (const borrow of borrows) {
    if (borrow.expiresAt !== null) first = first === null ? borrow.expiresAt : Math.min(first, borrow.expiresAt);
  }
  return first;
}

/** "until 2026-01-31 12:00 UTC, when the last one ends" or, with a `never`, "until they are returned (one never expires)". */
export function untilText(borrows: readonly BorrowObservation[]): string {
  const last = lastEnd(borrows);
  return last === null
    ? "until they are returned (at least one never expires)"
    : `until ${formatTime(last)}, when the last one ends`;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

export function isAre(count: number): string {
  return count === 1 ? "is" : "are";
}

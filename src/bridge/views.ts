import type { BorrowRow } from "../ledger/index.js";
import type { LicenseUsage } from "../protocol/index.js";
import type { BorrowView, KeyView, LicenseView } from "./api.js";
import type { IndexedBorrow } from "./borrow-index.js";
import type { CodeMeterStickInfo } from "./key-manager.js";
import type { KeySession } from "./key-session.js";

/** A product's display name, where one is known (virtual mode names its demo products). */
export type ProductNames = (product: number) => string | undefined;

/**
 * `expired` is active and past expiresAt in key time; `returning` shows as active (the client still
 * holds it). A closed row (the result of a return or settle, never in a listing) shows as it ended:
 * `returned`, or `settled` (expired and settled, gone from the key, or rolled back).
 */
export function stateOf(row: BorrowRow, keyNow: number): BorrowView["state"] {
  switch (row.state) {
    case "dummy":
      return "dummy";
    case "returned":
      return "returned";
    case "settled":
    case "rolled-back":
      return "settled";
    default:
      return keyNow >= row.expiresAt ? "expired" : "active";
  }
}

export function borrowViewOf(entry: IndexedBorrow, keyNow: number, names: ProductNames): BorrowView {
  const { row } = entry;
  const view: BorrowView = {
    source: "keybridge",
    id: row.id,
    serial: row.serial,
    product: row.product,
    client: row.client,
    issuedAt: entry.issuedAtIso,
    expiresAt: entry.expiresAtIso,
    state: stateOf(row, keyNow),
  };
  if (entry.dummyUntilIso !== undefined) view.dummyUntil = entry.dummyUntilIso;
  const name = names(row.product);
  if (name !== undefined) view.productName = name;
  return view;
}

/** A row that is no longer outstanding (just returned or settled): its last view. */
export function borrowViewOfRow(row: BorrowRow, keyNow: number, names: ProductNames): BorrowView {
  return borrowViewOf(
    {
      row,
      issuedAtIso: new Date(row.issuedAt).toISOString(),
      expiresAtIso: new Date(row.expiresAt).toISOString(),
      dummyUntilIso: row.dummyUntil === null ? undefined : new Date(row.dummyUntil).toISOString(),
    },
    keyNow,
    names,
  );
}

export function licenseViewOf(license: LicenseUsage, names: ProductNames): LicenseView {
  const view: LicenseView = {
    product: license.product,
    seats: license.seats,
    borrowable: license.borrowable,
    borrowed: license.borrowed,
    dummies: license.dummies,
    borrowDays: license.borrowDays,
  };
  const name = names(license.product);
  if (name !== undefined) view.name = name;
  return view;
}

export function keyViewOf(session: KeySession, names: ProductNames): KeyView {
  return {
    serial: session.serial,
    present: session.present,
    kind: "keybridge",
    firmwareVersion: session.info.firmwareVersion,
    licenseSetVersion: session.info.licenseSetVersion,
    lastSeen: new Date(session.lastSeen).toISOString(),
    ...(session.present ? { keyTime: new Date(session.keyNow()).toISOString() } : {}),
    licenses: session.licenses.map((license) => licenseViewOf(license, names)),
  };
}

export function stickViewOf(stick: CodeMeterStickInfo): KeyView {
  return { serial: stick.serial, present: stick.present, kind: "codemeter", licenses: [] };
}

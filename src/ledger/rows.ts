import type { BorrowState } from "../vocabulary/index.js";
import { rowChecksum, sha256Hex } from "./checksum.js";
import type { BorrowRow, KeyRow, OpRow } from "./types.js";

/** Column lists aliased to the API's field names, so rows come out of SQLite already shaped. */
export const BORROW_COLUMNS = `serial, id, op_id AS opId, product, client, issued_at AS issuedAt,
  expires_at AS expiresAt, binding, tag, state, dummy_until AS dummyUntil, settle_op_id AS settleOpId,
  created_at AS createdAt, updated_at AS updatedAt, checksum`;

/** The public key comes out as a Buffer: hex() in SQL would hide a TEXT/BLOB type flip. */
export const KEY_COLUMNS = `serial, public_key AS publicKey, first_seen AS firstSeen,
  last_seen AS lastSeen, last_binding AS lastBinding, license_set_version AS licenseSetVersion, checksum`;

export const OP_COLUMNS = `op_id AS opId, kind, serial, borrow_id AS borrowId, step, outcome, error_code AS errorCode,
  started_at AS startedAt, finished_at AS finishedAt, details, checksum`;

export type StoredOp = Omit<OpRow, "details"> & { details: string; checksum: string };

/**
 * Fields joined by U+001F. Only `client` is free text (the others are hex, integers or an enum),
 * and the number of separators is fixed, so the encoding is unambiguous; it is much cheaper than
 * JSON, and every row read at start is verified (`ready_ms_100k`).
 */
export function borrowChecksum(row: BorrowRow): string {
  return sha256Hex(
    `borrow\x1f${row.serial}\x1f${row.id}\x1f${row.opId}\x1f${row.product}\x1f${row.client}\x1f${row.issuedAt}\x1f${row.expiresAt}\x1f${row.binding}\x1f${row.tag}\x1f${row.state}\x1f${row.dummyUntil}\x1f${row.settleOpId}\x1f${row.createdAt}\x1f${row.updatedAt}`,
  );
}

/** A borrow as `.raw()` returns it: BORROW_COLUMNS in order, checksum last. */
export type RawBorrow = [
  string,
  number,
  string,
  number,
  string,
  number,
  number,
  string,
  string,
  BorrowState,
  number | null,
  string | null,
  number,
  number,
  string,
];

const TEXT_COLUMNS = [0, 2, 4, 7, 8, 9, 14] as const;
const INTEGER_COLUMNS = [1, 3, 5, 6, 12, 13] as const;

/**
 * A flipped bit in a record header can turn TEXT into a BLOB of the same bytes; the values would
 * then hash the same, so types are checked before the checksum is trusted.
 */
export function rawBorrowTypesValid(raw: RawBorrow): boolean {
  for (const index of TEXT_COLUMNS) if (typeof raw[index] !== "string") return false;
  for (const index of INTEGER_COLUMNS) if (!Number.isInteger(raw[index])) return false;
  return (raw[10] === null || Number.isInteger(raw[10])) && (raw[11] === null || typeof raw[11] === "string");
}

export function borrowFromRaw(raw: RawBorrow): BorrowRow {
  return {
    serial: raw[0],
    id: raw[1],
    opId: raw[2],
    product: raw[3],
    client: raw[4],
    issuedAt: raw[5],
    expiresAt: raw[6],
    binding: raw[7],
    tag: raw[8],
    state: raw[9],
    dummyUntil: raw[10],
    settleOpId: raw[11],
    createdAt: raw[12],
    updatedAt: raw[13],
  };
}

/** Only the pinned identity is covered: last_seen changes on every attach and is harmless if wrong. */
export function keyChecksum(serial: string, publicKey: string, firstSeen: number): string {
  return rowChecksum(["key", serial, publicKey, firstSeen]);
}

export function opChecksum(row: StoredOp | (Omit<OpRow, "details"> & { details: string })): string {
  return rowChecksum([
    "op",
    row.opId,
    row.kind,
    row.serial,
    row.borrowId,
    row.step,
    row.outcome,
    row.errorCode,
    row.startedAt,
    row.finishedAt,
    row.details,
  ]);
}

export function metaChecksum(key: string, value: string): string {
  return rowChecksum(["meta", key, value]);
}

export type StoredKey = Omit<KeyRow, "publicKey"> & { publicKey: unknown; checksum: string };

export function opFromStored(row: StoredOp): OpRow {
  const { checksum: _checksum, details, ...rest } = row;
  return { ...rest, details: JSON.parse(details) as Record<string, unknown> };
}

import type { HostSnapshot } from "./inputs.js";
import type { BorrowObservation, LicenseObservation } from "./observations.js";

/**
 * Observations read back from a store are checked field by field: a store holds JSON, and a
 * value of the wrong shape (another version, a damaged row) is left out rather than trusted.
 * What is left out is learned again at the next server start, when CodeMeter re-lists its borrows.
 */

type Json = Record<string, unknown>;

const isString = (value: unknown): value is string => typeof value === "string";
const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
const stringOrNull = (value: unknown): value is string | null => value === null || isString(value);
const numberOrNull = (value: unknown): value is number | null => value === null || isNumber(value);

function host(value: unknown): HostSnapshot | null | undefined {
  if (value === null) return null;
  if (typeof value !== "object") return undefined;
  const { ips, hostname, machineId } = value as Json;
  if (!Array.isArray(ips) || !ips.every(isString) || !isString(hostname) || !isString(machineId)) return undefined;
  return { ips, hostname, machineId };
}

export function restoreBorrow(value: unknown): BorrowObservation | null {
  if (value === null || typeof value !== "object") return null;
  const v = value as Json;
  const snapshot = host(v.host);
  if (
    !isString(v.key) ||
    !isString(v.borrowId) ||
    !numberOrNull(v.expiresAt) ||
    !stringOrNull(v.licenseId) ||
    !stringOrNull(v.serial) ||
    !numberOrNull(v.firmCode) ||
    !numberOrNull(v.productCode) ||
    !stringOrNull(v.productText) ||
    !stringOrNull(v.client) ||
    !stringOrNull(v.user) ||
    !stringOrNull(v.server) ||
    !stringOrNull(v.borrowSn) ||
    !isNumber(v.firstSeen) ||
    !isNumber(v.lastSeen) ||
    (v.knownBy !== "tracking-log" && v.knownBy !== "relisted") ||
    (v.status !== "outstanding" && v.status !== "missing" && v.status !== "gone") ||
    !isNumber(v.statusAt) ||
    !numberOrNull(v.missingSince) ||
    !numberOrNull(v.dummyUntil) ||
    (v.goneReason !== null &&
      v.goneReason !== "expired" &&
      v.goneReason !== "replaced" &&
      v.goneReason !== "dummy-period-over") ||
    snapshot === undefined
  ) {
    return null;
  }
  return {
    key: v.key,
    borrowId: v.borrowId,
    expiresAt: v.expiresAt,
    licenseId: v.licenseId,
    serial: v.serial,
    firmCode: v.firmCode,
    productCode: v.productCode,
    productText: v.productText,
    client: v.client,
    user: v.user,
    server: v.server,
    borrowSn: v.borrowSn,
    firstSeen: v.firstSeen,
    lastSeen: v.lastSeen,
    knownBy: v.knownBy,
    status: v.status,
    statusAt: v.statusAt,
    missingSince: v.missingSince,
    dummyUntil: v.dummyUntil,
    goneReason: v.goneReason,
    host: snapshot,
  };
}

export function restoreLicense(value: unknown): LicenseObservation | null {
  if (value === null || typeof value !== "object") return null;
  const v = value as Json;
  if (
    !isString(v.licenseId) ||
    !stringOrNull(v.serial) ||
    !numberOrNull(v.firmCode) ||
    !numberOrNull(v.productCode) ||
    !stringOrNull(v.productText) ||
    !isNumber(v.seenAt)
  ) {
    return null;
  }
  return {
    licenseId: v.licenseId,
    serial: v.serial,
    firmCode: v.firmCode,
    productCode: v.productCode,
    productText: v.productText,
    seenAt: v.seenAt,
  };
}

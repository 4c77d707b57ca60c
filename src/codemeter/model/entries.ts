/**
 * The entries of CodeMeter's License Tracking log, as typed values. Every known entry type has a
 * shape of its own; anything else is kept as `Other` with its fields, never dropped. Keys are
 * matched case-insensitively (runtime versions spell `LicenseId` and `LicenseID`); the fields as
 * written, in order and with their original spelling, stay on every entry.
 */

export interface TrackingField {
  /** As written, e.g. `LicenseID`. */
  readonly key: string;
  readonly value: string;
  /** True when the value was a double-quoted string (its `\"` already unescaped). */
  readonly quoted: boolean;
}

interface EntryBase {
  /** The entry's timestamp, epoch ms (UTC). */
  readonly at: number;
  /** All fields in order, unknown ones included. */
  readonly fields: readonly TrackingField[];
  /** Bare words after the fields, e.g. `CodeMeter_started` and its timestamp on Admin lines. */
  readonly words: readonly string[];
}

export interface BorrowEntry extends EntryBase {
  readonly type: "Borrow";
  readonly server: string | null;
  readonly licenseId: string | null;
  readonly borrowId: string;
  readonly client: string | null;
  readonly user: string | null;
  /** Epoch ms, or null for `never`. */
  readonly expiresAt: number | null;
  /** The borrowing client's container, `<mask>-<serial>`. */
  readonly borrowSn: string | null;
}

export interface AccessEntry extends EntryBase {
  readonly type: "Access";
  readonly server: string | null;
  readonly licenseId: string | null;
  readonly accessId: string | null;
  readonly client: string | null;
  readonly user: string | null;
  readonly appId: string | null;
  readonly appText: string | null;
}

export interface ReleaseEntry extends EntryBase {
  readonly type: "Release";
  readonly server: string | null;
  readonly accessId: string | null;
}

export interface DenialEntry extends EntryBase {
  readonly type: "Denial";
  readonly server: string | null;
  readonly licenseId: string | null;
  readonly client: string | null;
  readonly user: string | null;
  readonly appId: string | null;
  readonly appText: string | null;
}

export interface LicenseEntry extends EntryBase {
  readonly type: "License";
  readonly server: string | null;
  readonly licenseId: string;
  /** The server container holding the license, `<mask>-<serial>`. */
  readonly serial: string | null;
  readonly firmCode: number | null;
  readonly productCode: number | null;
  readonly featureMap: string | null;
  /** Epoch ms, null for `never` or absent. */
  readonly expiration: number | null;
  readonly quantity: number | null;
  readonly productText: string | null;
}

export interface AdminEntry extends EntryBase {
  readonly type: "Admin";
  readonly server: string | null;
  /** `CodeMeter_started`, `CodeMeter_stopped`, or another word kept as written. */
  readonly event: string | null;
  /** The time written after `CodeMeter_started`, epoch ms, when present. */
  readonly eventAt: number | null;
}

export interface SignedLogfileEntry extends EntryBase {
  readonly type: "SignedLogfile";
  readonly firmCode: number | null;
  readonly runtimeVersion: string | null;
  readonly logfileId: string | null;
}

export interface TmrLogfileEntry extends EntryBase {
  readonly type: "TmrLogfile";
  readonly firmCode: number | null;
  readonly runtimeVersion: string | null;
}

export interface OtherEntry extends EntryBase {
  readonly type: "Other";
  /** The type word as written. */
  readonly rawType: string;
}

export type TrackingEntry =
  | BorrowEntry
  | AccessEntry
  | ReleaseEntry
  | DenialEntry
  | LicenseEntry
  | AdminEntry
  | SignedLogfileEntry
  | TmrLogfileEntry
  | OtherEntry;

export type TrackingEntryType = TrackingEntry["type"];

/** Why a line was skipped; each is counted, none is fatal. */
export type SkipReason =
  | "empty"
  | "no-timestamp"
  | "no-type"
  | "unterminated-quote"
  | "bad-field"
  | "missing-field"
  | "bad-value"
  | "oversized";

export type LineResult =
  | { readonly ok: true; readonly entry: TrackingEntry }
  | { readonly ok: false; readonly reason: SkipReason };

/**
 * ASCII case-insensitive equality of two keys made of letters, digits, '-' and '_' (the only
 * characters a key may have): setting bit 5 folds the letters and leaves those others as they are.
 * No lower-cased copies: this runs several times for every line of the log.
 */
export function sameKey(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if ((a.charCodeAt(i) | 0x20) !== (b.charCodeAt(i) | 0x20)) return false;
  }
  return true;
}

/** The value of the first field named `key` (any case), or null. */
export function fieldValue(fields: readonly TrackingField[], key: string): string | null {
  for (const field of fields) {
    if (sameKey(field.key, key)) return field.value;
  }
  return null;
}

import type { HostSnapshot } from "./inputs.js";

/**
 * What keybridge has observed of CodeMeter's borrows. These are observations, not records of
 * keybridge's own: CodeMeter holds the borrows, keybridge only watches its log. They are kept in
 * the ledger in tables of their own, never mixed with keybridge's borrows.
 */

/** `outstanding`: out and not expired; `missing`: not re-listed at a server start (a dummy is likely); `gone`: ended. */
export type BorrowStatus = "outstanding" | "missing" | "gone";

/** `tracking-log`: seen when it was borrowed; `relisted`: first seen in the list the server writes at a start. */
export type KnownBy = "tracking-log" | "relisted";

export type GoneReason =
  /** Its expiry passed. */
  | "expired"
  /** A server start re-listed the same borrow id with another expiry: returned, and the slot borrowed again. */
  | "replaced"
  /** It was missing; the borrow period a dummy would last is over. */
  | "dummy-period-over";

export interface BorrowObservation {
  /** `borrowId|expiry`: the borrow id names a slot of the client's container, which is reused after a return. */
  readonly key: string;
  readonly borrowId: string;
  /** Epoch ms; null for `never`. */
  readonly expiresAt: number | null;
  readonly licenseId: string | null;
  /** The server container holding the license, `<mask>-<number>`. */
  readonly serial: string | null;
  readonly firmCode: number | null;
  readonly productCode: number | null;
  readonly productText: string | null;
  readonly client: string | null;
  readonly user: string | null;
  readonly server: string | null;
  /** The borrowing client's container. */
  readonly borrowSn: string | null;
  /** Log times (epoch ms) of the first and the last entry that named it. */
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly knownBy: KnownBy;
  readonly status: BorrowStatus;
  /** When the status last changed (epoch ms). */
  readonly statusAt: number;
  /** The server start (epoch ms) that did not re-list it. */
  readonly missingSince: number | null;
  /** Until when the dummy it probably became blocks borrowing (epoch ms). */
  readonly dummyUntil: number | null;
  readonly goneReason: GoneReason | null;
  /** This host as it was when the borrow was first seen; null when not known then. */
  readonly host: HostSnapshot | null;
}

export interface LicenseObservation {
  readonly licenseId: string;
  readonly serial: string | null;
  readonly firmCode: number | null;
  readonly productCode: number | null;
  readonly productText: string | null;
  /** Log time of the newest License entry for it. */
  readonly seenAt: number;
}

export type ObservationAuditKind =
  | "codemeter-borrow-seen"
  | "codemeter-borrow-relisted"
  | "codemeter-borrow-missing"
  | "codemeter-borrow-gone";

export interface ObservationAudit {
  readonly kind: ObservationAuditKind;
  /** Epoch ms. */
  readonly at: number;
  readonly borrowId: string;
  /** The license's container serial, when known. */
  readonly serial: string | null;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export function observationKey(borrowId: string, expiresAt: number | null): string {
  return `${borrowId}|${expiresAt === null ? "never" : new Date(expiresAt).toISOString()}`;
}

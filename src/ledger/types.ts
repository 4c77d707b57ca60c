/**
 * Row shapes of the ledger's API. Ids and times are JS numbers (epoch ms; borrow ids must be safe
 * integers), byte strings are lower-case hex: opId and tag 16 bytes, binding and publicKey 32 bytes.
 */
import type { BorrowState, LedgerBorrow } from "../vocabulary/index.js";

export const OP_KINDS = ["borrow", "return", "settle-expired", "rebind", "license-update", "rollback"] as const;
export type OpKind = (typeof OP_KINDS)[number];

export const OP_OUTCOMES = ["pending", "done", "failed", "rolled-back"] as const;
export type OpOutcome = (typeof OP_OUTCOMES)[number];

export type AuditKind =
  | "borrow"
  | "return"
  | "settle-expired"
  | "rebind"
  | "rollback"
  | "counterfeit-key"
  | "license-update"
  | "license-update-forced"
  | "repair"
  | "migrate"
  | "ledger-rebuilt"
  | "ledger-export"
  | "ledger-import"
  | (string & {});

export interface KeyRow {
  serial: string;
  publicKey: string;
  firstSeen: number;
  lastSeen: number;
  lastBinding: string | null;
  licenseSetVersion: number | null;
}

export interface KeyTouch {
  lastSeen: number;
  lastBinding?: string | null;
  licenseSetVersion?: number | null;
}

/** The vocabulary's ledger borrow with what only the ledger keeps: the settle in progress and the row's times. */
export interface BorrowRow extends LedgerBorrow {
  dummyUntil: number | null;
  settleOpId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What `insertBorrow` takes: timestamps default to the ledger clock. */
export type NewBorrow = Omit<BorrowRow, "dummyUntil" | "settleOpId" | "createdAt" | "updatedAt"> & {
  dummyUntil?: number | null;
  settleOpId?: string | null;
  createdAt?: number;
  updatedAt?: number;
};

/** Fields a borrow may change after insertion; serial, id, opId, product, client and tag never change. */
export interface BorrowPatch {
  state?: BorrowState;
  dummyUntil?: number | null;
  settleOpId?: string | null;
  binding?: string;
  issuedAt?: number;
  expiresAt?: number;
  updatedAt?: number;
}

export interface BorrowQuery {
  serial?: string;
  states?: readonly BorrowState[];
  limit?: number;
  offset?: number;
}

export interface OpRow {
  opId: string;
  kind: OpKind;
  serial: string;
  borrowId: number | null;
  step: string;
  outcome: OpOutcome;
  errorCode: string | null;
  startedAt: number;
  finishedAt: number | null;
  details: Record<string, unknown>;
}

export interface NewOp {
  opId: string;
  kind: OpKind;
  serial: string;
  borrowId?: number | null;
  /** The named step reached; defaults to "begun". */
  step?: string;
  startedAt?: number;
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  id: number;
  at: number;
  kind: AuditKind;
  serial: string | null;
  borrowId: number | null;
  message: string;
  details: Record<string, unknown>;
}

export interface NewAuditEntry {
  kind: AuditKind;
  message: string;
  serial?: string | null;
  borrowId?: number | null;
  at?: number;
  details?: Record<string, unknown>;
}

export interface AuditQuery {
  /** Only entries at or after this epoch-ms time. */
  since?: number;
  kind?: AuditKind;
  /** Only entries about this key. */
  serial?: string;
  /** Only entries older than the entry with this id: the next page after a page ending there. */
  before?: number;
  limit: number;
}

export interface LedgerStats {
  /** SQLite transactions committed by this handle (group commits, `transaction`, single writes). */
  commits: number;
  /** Closures run through `commit` (group commit). */
  groupedWrites: number;
  /** Closures of `commit` that threw and were rolled back alone. */
  failedWrites: number;
}

export interface ImportSummary {
  sourceInstanceId: string;
  keys: number;
  borrows: number;
  pendingOps: number;
  /** True when the source's server secret became this ledger's secret (the target held no borrows). */
  adoptedSecret: boolean;
  forced: boolean;
}

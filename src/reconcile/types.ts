/**
 * Plain-data shapes of the reconciler. Ids are JS numbers (u64 borrow ids below 2^53), times are
 * epoch milliseconds, products are u32 numbers, and binding, tag and opId are lower-case hex
 * strings. The orchestration layer maps the key, registry, ledger and host views into these; the
 * ledger's view is the vocabulary's `LedgerBorrow`, which the ledger's rows extend.
 */
import type { KeyRecordState } from "../protocol/index.js";
import type { LedgerBorrow, RegistryBorrow, Severity } from "../vocabulary/index.js";

export type { LedgerBorrow, RegistryBorrow, Severity };

/** A borrow record as the key lists it (K8): with its opId, never with its tag. */
export interface KeyBorrow {
  id: number;
  product: number;
  client: string;
  issuedAt: number;
  expiresAt: number;
  binding: string;
  opId: string;
  state: KeyRecordState;
  dummyUntil?: number | null;
}

export interface KeyLicense {
  product: number;
  seats: number;
  borrowable: number;
  borrowDays: number;
}

export interface KeyView {
  serial: string;
  present: boolean;
  /** Undefined when the key is absent or could not be read. */
  borrows?: KeyBorrow[];
  licenses?: KeyLicense[];
  /** The key's own clock (K4 counts the settle window in key time); defaults to `now`. */
  keyTimeMs?: number;
  /** How long after `expiresAt` the key waits for a settle before it makes a dummy (K4). */
  settleWindowMs: number;
}

export type RegistryView = { readable: true; borrows: RegistryBorrow[] } | { readable: false; reason: string };

export interface HostView {
  /** Binding of the host keybridge runs on now. */
  binding: string;
  /** Per serial, the binding of the host the key was last seen on (detects a key moved here). */
  keyLastBinding?: Record<string, string>;
}

export interface ReconcileInput {
  keys: KeyView[];
  registry: RegistryView;
  ledger: LedgerBorrow[];
  host: HostView;
  now: number;
  /** True when the server derives tags from the opId and its secret, so a lost tag can be recomputed. */
  tagDerivable?: boolean;
  /** Tags the caller already derived, keyed by opId hex. */
  derivedTags?: Record<string, string>;
}

export const FINDING_KINDS = [
  "healthy",
  "registry-missing",
  "registry-changed",
  "registry-extra",
  "ledger-missing",
  "ledger-changed",
  "ledger-orphan",
  "binding-mismatch",
  "expired-unsettled",
  "tag-mismatch",
  "dummy",
  "key-absent",
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export const REPAIR_ACTIONS = [
  "none",
  "restore-registry",
  "rebuild-ledger",
  "settle-now",
  "migrate",
  "remove-registry-entry",
  "mark-ledger-settled",
  "wait",
] as const;
export type RepairAction = (typeof REPAIR_ACTIONS)[number];

export interface Repair {
  action: RepairAction;
  /** May `reconcile --repair` apply it automatically: it can neither create a dummy nor free a seat a client holds. */
  safe: boolean;
  description: string;
  /** For `rebuild-ledger`: where the lost tag comes from. */
  tagSource?: "ledger" | "registry" | "derived";
}

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  /** One plain sentence for a license admin. */
  message: string;
  repair: Repair;
  /** The one finding that states the borrow's overall condition; others on the same borrow accompany it. */
  primary: boolean;
  borrowId?: number;
  /** For `healthy`: the borrows of one key that are all consistent, in one finding. */
  borrowIds?: number[];
  serial?: string;
  product?: number;
  client?: string;
}

export interface DummyInfo {
  serial: string;
  product: number;
  borrowId: number;
  /** When the key clears it (K5); null when the source did not say. */
  dummyUntil: number | null;
}

export interface BlockedProduct {
  serial: string;
  product: number;
  /** When the last dummy of the product clears; null when unknown. */
  until: number | null;
}

export interface ReconcileReport {
  now: number;
  findings: Finding[];
  /** Number of findings of each kind (one `healthy` finding covers all healthy borrows of a key). */
  counts: Record<FindingKind, number>;
  /** Number of borrows found consistent. */
  healthyBorrows: number;
  /** Most severe severity among the findings, or "info" when there are none. */
  worst: Severity;
  dummies: DummyInfo[];
  blockedProducts: BlockedProduct[];
}

export interface RepairStep {
  action: Exclude<RepairAction, "none" | "wait">;
  /** Absent for whole-registry repairs. */
  serial?: string;
  borrowId?: number;
  kind: FindingKind;
  description: string;
  tagSource?: "ledger" | "registry" | "derived";
}

export interface RepairPlan {
  steps: RepairStep[];
  /** Findings whose repair is not safe to apply automatically; an admin must decide. */
  manual: Finding[];
}

import type { BorrowObservation, LicenseObservation, ObservationAudit } from "./model/observations.js";

/**
 * Where the CodeMeter watch keeps its observations between runs. The ledger implements it
 * (`Ledger.codeMeterObservations()`, tables of their own, never mixed with keybridge's borrows);
 * tests and embedders may keep them in memory.
 */
export interface CodeMeterObservationStore {
  /** Borrows not ended, and ended ones of the last `goneSinceMs` (epoch ms), licenses, and the facts document. */
  load(options: { goneSinceMs: number }): StoredObservations;
  /** One atomic write: upserts, the facts document when given, and the audit entries. */
  save(changes: ObservationChanges): void;
}

export interface StoredObservations {
  /** Borrow observations as saved (JSON values; the watch checks their shape). */
  readonly borrows: readonly unknown[];
  readonly licenses: readonly unknown[];
  /** The book's facts as last saved (JSON value), or null. */
  readonly facts: unknown;
  /** Rows that failed their checksum and were left out (they are re-learned at the next server start). */
  readonly damaged: number;
}

export interface ObservationChanges {
  readonly borrows: readonly BorrowObservation[];
  readonly licenses: readonly LicenseObservation[];
  /** Omitted when unchanged. */
  readonly facts?: unknown;
  readonly audit: readonly ObservationAudit[];
}

/** Observations in memory: for tests and for embedders without a ledger. */
export class MemoryObservationStore implements CodeMeterObservationStore {
  readonly borrows = new Map<string, BorrowObservation>();
  readonly licenses = new Map<string, LicenseObservation>();
  readonly audit: ObservationAudit[] = [];
  facts: unknown = null;
  saves = 0;

  load(options: { goneSinceMs: number }): StoredObservations {
    return {
      borrows: [...this.borrows.values()].filter(
        (borrow) => borrow.status !== "gone" || borrow.statusAt >= options.goneSinceMs,
      ),
      licenses: [...this.licenses.values()],
      facts: this.facts === null ? null : JSON.parse(JSON.stringify(this.facts)),
      damaged: 0,
    };
  }

  save(changes: ObservationChanges): void {
    this.saves++;
    for (const borrow of changes.borrows) this.borrows.set(borrow.key, borrow);
    for (const license of changes.licenses) this.licenses.set(license.licenseId, license);
    if (changes.facts !== undefined) this.facts = JSON.parse(JSON.stringify(changes.facts));
    this.audit.push(...changes.audit);
  }
}

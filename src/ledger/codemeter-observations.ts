import { layerLogger } from "../log.js";
import { appendAudit } from "./audit.js";
import { rowChecksum } from "./checksum.js";
import type { LedgerStore } from "./store.js";

const log = layerLogger("ledger");

/**
 * The CodeMeter mode's observations in the ledger: tables of their own (codemeter_borrows,
 * codemeter_licenses, codemeter_facts), never mixed with keybridge's borrows, and audit entries in
 * the ledger's audit trail. The ledger stores the mode's values as JSON and checks them with a row
 * checksum; it does not interpret them (the mode validates what it reads back).
 */

/** What the ledger needs to know of an observed borrow to store and select it. */
export interface CodeMeterBorrowRecord {
  readonly key: string;
  readonly borrowId: string;
  readonly serial: string | null;
  readonly status: string;
  readonly statusAt: number;
}

export interface CodeMeterLicenseRecord {
  readonly licenseId: string;
}

export interface CodeMeterAuditRecord {
  readonly kind: string;
  readonly at: number;
  readonly borrowId: string;
  readonly serial: string | null;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface CodeMeterObservationRows {
  /** Parsed JSON values, as saved. */
  readonly borrows: readonly unknown[];
  readonly licenses: readonly unknown[];
  readonly facts: unknown;
  /** Rows whose checksum or JSON did not hold, left out. */
  readonly damaged: number;
}

export interface CodeMeterObservationWrite {
  readonly borrows: readonly CodeMeterBorrowRecord[];
  readonly licenses: readonly CodeMeterLicenseRecord[];
  readonly facts?: unknown;
  readonly audit: readonly CodeMeterAuditRecord[];
}

/** The store the CodeMeter mode receives (it matches the mode's CodeMeterObservationStore). */
export interface CodeMeterObservationLedger {
  load(options: { goneSinceMs: number }): CodeMeterObservationRows;
  save(changes: CodeMeterObservationWrite): void;
}

const FACTS_KEY = "book";

function checksumOf(key: string, data: string): string {
  return rowChecksum(["codemeter", key, data]);
}

function parseVerified(key: string, data: string, checksum: string): unknown {
  if (checksumOf(key, data) !== checksum) return undefined;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}

export function codeMeterObservations(store: LedgerStore): CodeMeterObservationLedger {
  return {
    load(options) {
      return store.guard("load CodeMeter observations", () => {
        let damaged = 0;
        const keep = (key: string, data: string, checksum: string): unknown[] => {
          const value = parseVerified(key, data, checksum);
          if (value === undefined) {
            damaged++;
            log.warn("CodeMeter observation row failed its checksum; left out", { key });
            return [];
          }
          return [value];
        };
        const borrows = (
          store
            .stmt(
              "SELECT key, data, checksum FROM codemeter_borrows WHERE status <> 'gone' OR status_at >= ? ORDER BY key",
            )
            .all(options.goneSinceMs) as { key: string; data: string; checksum: string }[]
        ).flatMap((row) => keep(row.key, row.data, row.checksum));
        const licenses = (
          store.stmt("SELECT license_id AS key, data, checksum FROM codemeter_licenses ORDER BY license_id").all() as {
            key: string;
            data: string;
            checksum: string;
          }[]
        ).flatMap((row) => keep(row.key, row.data, row.checksum));
        const factsRow = store.stmt("SELECT value, checksum FROM codemeter_facts WHERE key = ?").get(FACTS_KEY) as
          | { value: string; checksum: string }
          | undefined;
        const facts = factsRow === undefined ? [null] : keep(FACTS_KEY, factsRow.value, factsRow.checksum);
        return { borrows, licenses, facts: facts[0] ?? null, damaged };
      });
    },
    save(changes) {
      store.write("save CodeMeter observations", () => {
        const borrow = store.stmt(
          `INSERT INTO codemeter_borrows (key, borrow_id, serial, status, status_at, data, checksum)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET borrow_id = excluded.borrow_id, serial = excluded.serial,
             status = excluded.status, status_at = excluded.status_at, data = excluded.data, checksum = excluded.checksum`,
        );
        for (const row of changes.borrows) {
          const data = JSON.stringify(row);
          borrow.run(row.key, row.borrowId, row.serial, row.status, row.statusAt, data, checksumOf(row.key, data));
        }
        const license = store.stmt(
          "INSERT OR REPLACE INTO codemeter_licenses (license_id, data, checksum) VALUES (?, ?, ?)",
        );
        for (const row of changes.licenses) {
          const data = JSON.stringify(row);
          license.run(row.licenseId, data, checksumOf(row.licenseId, data));
        }
        if (changes.facts !== undefined) {
          const data = JSON.stringify(changes.facts);
          store
            .stmt("INSERT OR REPLACE INTO codemeter_facts (key, value, checksum) VALUES (?, ?, ?)")
            .run(FACTS_KEY, data, checksumOf(FACTS_KEY, data));
        }
        for (const entry of changes.audit) {
          appendAudit(store, {
            kind: entry.kind,
            at: entry.at,
            serial: entry.serial,
            message: entry.message,
            details: { ...entry.details },
          });
        }
      });
    },
  };
}

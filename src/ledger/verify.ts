import { openLedger } from "./open.js";

/**
 * Opens the ledger in `checkDir` read-only (header, SQLite quick_check, schema, checksums of the
 * live rows) and verifies every outstanding borrow's checksum. Synchronous: better-sqlite3 is.
 * Throws the ledger's typed errors (LEDGER_CORRUPT, LEDGER_TOO_NEW, LEDGER_READ_ONLY, LEDGER_IO).
 */
export function verifyLedgerIn(checkDir: string): { outstanding: number } {
  // A short busy wait: a reader is not blocked by the daemon's writes in WAL mode, and doctor's check has 3 s.
  const ledger = openLedger({ dir: checkDir, readOnly: true, busyTimeoutMs: 1_000 });
  try {
    return { outstanding: ledger.listOutstanding().length };
  } finally {
    ledger.close();
  }
}

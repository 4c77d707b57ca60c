/**
 * Worker thread: SQLite's quick_check of the ledger file, run while the daemon's main thread loads
 * its modules. Posts `true` only when the check passed; anything else (the file is missing, damaged,
 * cannot be opened read-only, the check fails) posts `false`, and the ledger's open then runs the
 * check itself and reports what it finds as usual. Read-only, so closing never checkpoints the WAL
 * into the file before the ledger's own header check has seen it.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { checkHeader, checkStructure } from "./integrity.js";

function quickCheckPasses(file: string): boolean {
  try {
    checkHeader(file);
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      checkStructure(db, file, "quick");
      return true;
    } finally {
      db.close();
    }
  } catch {
    // Not swallowed: `false` makes the ledger's open repeat the check inline and raise this error itself.
    return false;
  }
}

parentPort?.postMessage(quickCheckPasses((workerData as { file: string }).file));

import Database from "better-sqlite3";
import { KeybridgeError } from "../errors.js";
import {
  LedgerClosedError,
  LedgerCorruptError,
  LedgerDiskFullError,
  LedgerDuplicateError,
  LedgerIoError,
  LedgerReadOnlyError,
} from "./errors.js";

const READ_ONLY_ERRNO = new Set(["EACCES", "EPERM", "EROFS"]);
const DISK_FULL_ERRNO = new Set(["ENOSPC", "EDQUOT"]);

/**
 * Turns a native SQLite or file-system error into the ledger's typed error, naming the file, so
 * callers branch on `code` and never on SQLite's message text. Typed errors pass through unchanged.
 */
export function mapLedgerError(error: unknown, file: string, action: string): KeybridgeError {
  if (error instanceof KeybridgeError) return error;
  const options = { cause: error, details: { file, action } };
  if (error instanceof Database.SqliteError) {
    const code = error.code;
    const what = `${action} ${file}: ${error.message} (${code})`;
    if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
      return new LedgerCorruptError(`ledger ${file} is corrupt: ${action}: ${error.message}`, options);
    }
    if (code === "SQLITE_FULL") return new LedgerDiskFullError(`disk full: ${what}`, options);
    if (code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM" || code === "SQLITE_AUTH") {
      return new LedgerReadOnlyError(`ledger is read-only: ${what}`, options);
    }
    if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
      return new LedgerDuplicateError(`already recorded: ${what}`, options);
    }
    return new LedgerIoError(`ledger I/O failed: ${what}`, options);
  }
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof errno === "string") {
    const what = `${action} ${file}: ${message}`;
    if (DISK_FULL_ERRNO.has(errno)) return new LedgerDiskFullError(`disk full: ${what}`, options);
    if (READ_ONLY_ERRNO.has(errno)) return new LedgerReadOnlyError(`ledger is not writable: ${what}`, options);
    return new LedgerIoError(`ledger I/O failed: ${what}`, options);
  }
  if (error instanceof TypeError && /connection is not open/.test(message)) {
    return new LedgerClosedError(`the ledger ${file} is closed (${action})`, options);
  }
  return new LedgerIoError(`ledger failure: ${action} ${file}: ${message}`, options);
}

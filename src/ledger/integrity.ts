import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import type Database from "better-sqlite3";
import { LedgerCorruptError } from "./errors.js";
import { mapLedgerError } from "./map-error.js";

const HEADER_SIZE = 100;
const MAGIC = Buffer.from("SQLite format 3\0", "latin1");

function corrupt(file: string, reason: string): LedgerCorruptError {
  return new LedgerCorruptError(
    `ledger ${file} is corrupt: ${reason}; quarantine it and rebuild from the registry and the key`,
    { details: { file, reason } },
  );
}

/**
 * Checks the 100-byte SQLite header against the file before SQLite opens it: SQLite reads
 * past-the-end pages of a truncated file as zeroes and may not notice until much later.
 */
export function checkHeader(file: string): void {
  let size: number;
  const header = Buffer.alloc(HEADER_SIZE);
  try {
    if (!existsSync(file)) return;
    size = statSync(file).size;
    if (size === 0) return; // a fresh file; SQLite writes the header at the first transaction
    const fd = openSync(file, "r");
    try {
      readSync(fd, header, 0, HEADER_SIZE, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw mapLedgerError(error, file, "read ledger header");
  }
  if (size < HEADER_SIZE) throw corrupt(file, `file is ${size} bytes, shorter than a database header`);
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt(file, "not an SQLite database (bad magic)");
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw corrupt(file, `invalid page size ${rawPageSize}`);
  if (size % pageSize !== 0) throw corrupt(file, `size ${size} is not a whole number of ${pageSize}-byte pages`);
  const pageCount = header.readUInt32BE(28);
  const countIsValid = pageCount > 0 && header.readUInt32BE(24) === header.readUInt32BE(92);
  // With a non-empty WAL a crash mid-checkpoint may leave the file short; SQLite finishes it from the WAL.
  if (countIsValid && !hasWalFrames(file) && pageCount * pageSize > size) {
    throw corrupt(file, `truncated: header says ${pageCount} pages, file holds ${size / pageSize}`);
  }
}

function hasWalFrames(file: string): boolean {
  const wal = `${file}-wal`;
  return existsSync(wal) && statSync(wal).size > 32;
}

export type IntegrityMode = "quick" | "full";

/** Runs SQLite's structural check; any line other than "ok" is corruption. */
export function checkStructure(db: Database.Database, file: string, mode: IntegrityMode): void {
  let lines: string[];
  try {
    const rows = db.pragma(mode === "full" ? "integrity_check(20)" : "quick_check(20)") as Record<string, string>[];
    lines = rows.map((row) => String(Object.values(row)[0]));
  } catch (error) {
    throw mapLedgerError(error, file, `${mode} integrity check`);
  }
  if (lines.length === 1 && lines[0] === "ok") return;
  throw corrupt(file, `${mode === "full" ? "integrity_check" : "quick_check"} failed: ${lines.slice(0, 5).join("; ")}`);
}

import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { mapLedgerError } from "./map-error.js";

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** The database file and the two files SQLite keeps beside it in WAL mode. */
export function ledgerFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`];
}

export function ensureDir(dir: string): void {
  try {
    const created = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    // mkdir's mode is filtered by the umask; the ledger holds the server secret, so be exact.
    if (created !== undefined) chmodSync(dir, DIR_MODE);
  } catch (error) {
    throw mapLedgerError(error, dir, "create ledger directory");
  }
}

/** Creates an empty database file 0600 first: SQLite gives -wal and -shm the main file's mode. */
export function ensureFile(file: string): void {
  try {
    closeSync(openSync(file, "a", FILE_MODE));
  } catch (error) {
    throw mapLedgerError(error, file, "create ledger file");
  }
}

/** Resets the mode of every ledger file that exists and is looser than 0600. */
export function tightenModes(file: string): void {
  for (const path of ledgerFiles(file)) {
    try {
      if (!existsSync(path)) continue;
      if ((statSync(path).mode & 0o777) !== FILE_MODE) chmodSync(path, FILE_MODE);
    } catch (error) {
      throw mapLedgerError(error, path, "set ledger file mode");
    }
  }
}

export function fsyncDir(dir: string): void {
  // Windows cannot open a directory for fsync; rename durability there is the file system's job.
  if (process.platform === "win32") return;
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** temp file (0600) + fsync + rename + directory fsync: readers see the old or the new file, never half. */
export function writeFileAtomic(file: string, data: string): void {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const fd = openSync(temp, "wx", FILE_MODE);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    fsyncDir(dir);
  } catch (error) {
    removeLeftover(temp);
    throw mapLedgerError(error, file, "write");
  }
}

function removeLeftover(temp: string): void {
  if (existsSync(temp)) unlinkSync(temp);
}

/** Renames (never deletes) the ledger files to `<name>.corrupt-<stamp>`; returns the new paths. */
export function quarantineFiles(file: string, at: number): string[] {
  const stamp = new Date(at).toISOString().replace(/[:.]/g, "-");
  const moved: string[] = [];
  for (const path of ledgerFiles(file)) {
    if (!existsSync(path)) continue;
    const target = `${path}.corrupt-${stamp}`;
    try {
      renameSync(path, target);
    } catch (error) {
      throw mapLedgerError(error, path, "quarantine");
    }
    moved.push(target);
  }
  try {
    fsyncDir(dirname(file));
  } catch (error) {
    throw mapLedgerError(error, dirname(file), "fsync ledger directory");
  }
  return moved;
}

import { randomUUID } from "node:crypto";
import { accessSync, chmodSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import Database from "better-sqlite3";
import { type DataDirHolder, DataDirLockedError, DataDirUnwritableError } from "./errors.js";

/** The lock file every keybridge process holds while it uses a data directory. */
export const LOCK_FILE_NAME = "keybridge.lock";

const WHY: Readonly<Record<string, string>> = {
  EROFS: "is on a read-only file system",
  EACCES: "may not be written by this user",
  EPERM: "may not be written by this user",
  ENOSPC: "is on a full disk",
  EDQUOT: "is on a disk whose quota is used up",
  ENOTDIR: "is not a directory",
};

/**
 * Creates the data directory owner-only (0700; an existing one keeps its mode) and checks that
 * it can be written. A failure names the real cause and the directory that refuses: `mkdir -p`
 * on a read-only mount reports ENOENT, which says nothing about what is wrong.
 */
export function prepareDataDir(dataDir: string): { created: boolean; mode: number } {
  let created: boolean;
  try {
    created = mkdirSync(dataDir, { recursive: true, mode: 0o700 }) !== undefined;
    if (created) chmodSync(dataDir, 0o700);
  } catch (error) {
    throw unwritable(dataDir, "created", error);
  }
  try {
    accessSync(dataDir, constants.W_OK);
  } catch (error) {
    throw unwritable(dataDir, "written", error);
  }
  return { created, mode: statSync(dataDir).mode & 0o777 };
}

function unwritable(dataDir: string, what: "created" | "written", error: unknown): DataDirUnwritableError {
  const { path, reason } = realCause(dataDir, error as NodeJS.ErrnoException);
  const why = WHY[reason] ?? `fails with ${reason}`;
  const where = path === dataDir ? "it" : path;
  return new DataDirUnwritableError(
    `the data directory ${dataDir} cannot be ${what}: ${where} ${why} (${reason}); choose a writable --data-dir ` +
      "(or KEYBRIDGE_DATA_DIR), or fix the mount or the permissions",
    { dataDir, path, reason },
    error,
  );
}

/** The directory that refuses, and why: the nearest existing one, asked whether it may be written. */
function realCause(dataDir: string, error: NodeJS.ErrnoException): { path: string; reason: string } {
  let existing = resolve(dataDir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (error.code !== "ENOENT" && error.path !== undefined && existsSync(error.path)) {
    return { path: error.path, reason: error.code ?? "unknown" };
  }
  try {
    accessSync(existing, constants.W_OK);
  } catch (denied) {
    return { path: existing, reason: (denied as NodeJS.ErrnoException).code ?? "unknown" };
  }
  return { path: error.path ?? dataDir, reason: error.code ?? "unknown" };
}

interface HolderRow {
  pid: number;
  since: string;
  role: string;
  address: string | null;
  nonce: string;
}

const CREATE_HOLDER = `CREATE TABLE IF NOT EXISTS holder (
  one INTEGER PRIMARY KEY CHECK (one = 1), pid INTEGER NOT NULL, since TEXT NOT NULL, role TEXT NOT NULL,
  address TEXT, nonce TEXT NOT NULL)`;

/**
 * One keybridge process per data directory. The lock is an SQLite write lock (a POSIX record lock
 * on Linux and macOS, LockFileEx on Windows) held on `<dataDir>/keybridge.lock` for as long as the
 * process uses the directory: the operating system drops it when the process ends, however it
 * ends, so a killed daemon never leaves a lock behind that blocks the next start, and no pid has
 * to be guessed alive or dead. SQLite also keeps two connections of one process apart, so a second
 * `openBridge` in the same process is refused too. The holder's pid, role and address are stored
 * in the same file, for the refusal to name them.
 *
 * Nothing may open this file except through SQLite: closing any other descriptor of it would drop
 * the process's record locks.
 */
export class DataDirLock {
  private released = false;

  private constructor(
    readonly dataDir: string,
    readonly file: string,
    private readonly db: Database.Database,
  ) {}

  /** Takes the lock or throws DATA_DIR_LOCKED naming the holder. The directory must exist. */
  static acquire(dataDir: string, holder: { role: "daemon" | "library"; address?: string }): DataDirLock {
    const file = join(dataDir, LOCK_FILE_NAME);
    let db: Database.Database;
    try {
      // timeout 0: a held lock is an answer, not something to wait for.
      db = new Database(file, { timeout: 0 });
    } catch (error) {
      throw unwritable(dataDir, "written", error);
    }
    try {
      return new DataDirLock(dataDir, file, db).take(holder);
    } catch (error) {
      db.close();
      throw error instanceof DataDirLockedError ? error : unwritable(dataDir, "written", error);
    }
  }

  /**
   * The library's lock on `dataDir`: `given` when the caller (the daemon) already holds it, which
   * the caller then releases, else one taken now.
   */
  static heldFor(dataDir: string, given: DataDirLock | undefined): DataDirLock {
    if (given === undefined) return DataDirLock.acquire(dataDir, { role: "library" });
    if (!given.held || !given.covers(dataDir)) {
      throw new Error(`the data directory lock passed to openBridge does not hold ${dataDir}`);
    }
    return given;
  }

  get held(): boolean {
    return !this.released;
  }

  /** Whether this lock is the one for `dataDir`. */
  covers(dataDir: string): boolean {
    return resolve(dataDir) === resolve(this.dataDir);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.db.exec("ROLLBACK");
    } finally {
      this.db.close();
    }
  }

  /**
   * The holder's details must be committed to be readable by whoever is refused, and committing
   * ends the transaction that holds the lock: so write them, commit, take the lock again and check
   * that the committed details are still ours (another process may have taken the lock in between,
   * written its own and lost the lock to us again). Converges in one round unless two start at once.
   */
  private take(holder: { role: "daemon" | "library"; address?: string }): this {
    const nonce = randomUUID();
    const since = new Date().toISOString();
    for (let round = 0; round < 20; round++) {
      if (!this.begin()) throw new DataDirLockedError(this.dataDir, this.readHolder());
      this.db.exec(CREATE_HOLDER);
      this.db
        .prepare(
          "INSERT OR REPLACE INTO holder (one, pid, since, role, address, nonce) VALUES (1, @pid, @since, @role, @address, @nonce)",
        )
        .run({ pid: process.pid, since, role: holder.role, address: holder.address ?? null, nonce });
      this.db.exec("COMMIT");
      if (!this.begin()) continue;
      const row = this.db.prepare("SELECT nonce FROM holder WHERE one = 1").get() as { nonce: string } | undefined;
      if (row?.nonce === nonce) return this;
      this.db.exec("ROLLBACK");
    }
    throw new DataDirLockedError(this.dataDir, this.readHolder());
  }

  /** BEGIN IMMEDIATE takes SQLite's write lock; false when another connection holds it. */
  private begin(): boolean {
    try {
      this.db.exec("BEGIN IMMEDIATE");
      return true;
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code.startsWith("SQLITE_BUSY")) return false;
      throw error;
    }
  }

  /** The holder's committed details; the holder commits them in a moment, so a busy read is retried briefly. */
  private readHolder(): DataDirHolder | undefined {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const row = this.db.prepare("SELECT pid, since, role, address, nonce FROM holder WHERE one = 1").get() as
          | HolderRow
          | undefined;
        if (row === undefined) return undefined;
        return {
          pid: row.pid,
          since: row.since,
          role: row.role,
          ...(row.address === null ? {} : { address: row.address }),
        };
      } catch (error) {
        if (!(error instanceof Database.SqliteError)) throw error;
        // No holder table yet (its holder has not committed it) or the holder is committing.
        if (!error.code.startsWith("SQLITE_BUSY") && !/no such table/.test(error.message)) return undefined;
        sleepSync(10);
      }
    }
    return undefined;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

import type Database from "better-sqlite3";
import type { KeybridgeError } from "../errors.js";
import { layerLogger } from "../log.js";
import { LedgerClosedError, LedgerCorruptError, LedgerDiskFullError, LedgerIoError } from "./errors.js";
import { mapLedgerError } from "./map-error.js";
import type { LedgerStats } from "./types.js";

const log = layerLogger("ledger");

/**
 * The SQLite connection as the ledger's parts use it: prepared statements kept for reuse, reads
 * guarded (closed ledger, native errors mapped to ledger errors) and writes in one immediate
 * transaction (a savepoint when already inside one).
 */
export interface WriteHooks {
  /** A write the disk refused (full, I/O): the ledger is unhealthy. */
  onFailed(error: KeybridgeError): void;
  /** A write (or group commit) went through whole. */
  onSucceeded(): void;
}

export class LedgerStore {
  readonly counters: LedgerStats = { commits: 0, groupedWrites: 0, failedWrites: 0 };
  readonly runInTransaction: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;
  private refusal: KeybridgeError | undefined;

  constructor(
    readonly db: Database.Database,
    readonly file: string,
    readonly clock: () => number,
    private readonly hooks?: WriteHooks,
  ) {
    this.runInTransaction = this.db.transaction((fn: () => unknown) => fn());
  }

  /** The error every write is refused with from now on (the file is no longer the one a restart opens). */
  refuseWrites(error: KeybridgeError): void {
    this.refusal = error;
  }

  get writeRefusal(): KeybridgeError | undefined {
    return this.refusal;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  markClosed(): void {
    this.closed = true;
  }

  stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** A statement returning rows as arrays: cheaper than objects for the reads at start (`ready_ms_100k`). */
  rawStmt(sql: string): Database.Statement {
    const key = `raw:${sql}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare(sql).raw(true);
      this.statements.set(key, statement);
    }
    return statement;
  }

  ensureOpen(action: string): void {
    if (this.closed) throw new LedgerClosedError(`the ledger ${this.file} is closed (${action})`);
  }

  guard<T>(action: string, fn: () => T): T {
    this.ensureOpen(action);
    try {
      return fn();
    } catch (error) {
      throw mapLedgerError(error, this.file, action);
    }
  }

  write<T>(action: string, fn: () => T): T {
    if (this.refusal !== undefined) throw this.refusal;
    const outermost = !this.db.inTransaction;
    try {
      const result = this.guard(action, () => this.runInTransaction.immediate(fn) as T);
      if (outermost) {
        this.counters.commits += 1;
        this.hooks?.onSucceeded();
      }
      return result;
    } catch (error) {
      if (outermost && (error instanceof LedgerDiskFullError || error instanceof LedgerIoError)) {
        this.hooks?.onFailed(error);
      }
      throw error;
    }
  }

  rowCorrupt(what: string, details: Record<string, unknown>): LedgerCorruptError {
    log.error("ledger row checksum mismatch", { file: this.file, ...details });
    return new LedgerCorruptError(
      `ledger ${this.file} is corrupt: ${what}; quarantine it and rebuild from the registry and the key`,
      { details: { file: this.file, ...details } },
    );
  }
}

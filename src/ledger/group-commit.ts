import type Database from "better-sqlite3";
import { LedgerClosedError, LedgerInvalidInputError } from "./errors.js";

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Queued<Tx> {
  work: (tx: Tx) => unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export interface GroupCommitHooks {
  mapError(error: unknown, action: string): Error;
  /** Called once per committed SQLite transaction with how many closures it carried. */
  onCommit(closures: number, failedClosures: number): void;
  /** Called for each closure that threw (and was rolled back alone). */
  onClosureFailed(error: unknown): void;
  /** Called when a whole transaction failed (BEGIN or COMMIT refused, or SQLite aborted it: disk full, I/O). */
  onTransactionFailed(error: Error): void;
}

/**
 * Batches durable writes: every closure queued in the same event-loop turn runs inside ONE
 * SQLite transaction (one WAL fsync), started on `setImmediate`. Each closure runs in its own
 * savepoint, so a closure that throws is rolled back alone and only its promise rejects; the
 * others still commit. Promises settle only after the COMMIT returned, i.e. after the fsync.
 * Closures must be synchronous: better-sqlite3 holds the transaction on this thread.
 */
export class GroupCommitter<Tx> {
  private queue: Queued<Tx>[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;
  private readonly begin: Database.Statement;
  private readonly end: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackTo: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly tx: Tx,
    private readonly hooks: GroupCommitHooks,
  ) {
    this.begin = db.prepare("BEGIN IMMEDIATE");
    this.end = db.prepare("COMMIT");
    this.savepoint = db.prepare("SAVEPOINT keybridge_group_write");
    this.release = db.prepare("RELEASE keybridge_group_write");
    this.rollbackTo = db.prepare("ROLLBACK TO keybridge_group_write");
  }

  get pending(): number {
    return this.queue.length;
  }

  commit<T>(work: (tx: Tx) => T): Promise<T> {
    if (this.closed) return Promise.reject(new LedgerClosedError("the ledger is closed; write refused"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Runs what is queued now, synchronously (used by close so no accepted write is dropped). */
  flush(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    let batch = this.queue;
    this.queue = [];
    while (batch.length > 0) batch = this.runTransaction(batch);
  }

  close(): void {
    this.flush();
    this.closed = true;
  }

  /** Runs closures in one transaction; returns those left over if SQLite aborted the transaction. */
  private runTransaction(batch: Queued<Tx>[]): Queued<Tx>[] {
    try {
      this.begin.run();
    } catch (error) {
      const mapped = this.hooks.mapError(error, "begin group commit");
      this.hooks.onTransactionFailed(mapped);
      for (const item of batch) item.reject(mapped);
      return [];
    }
    const outcomes: Outcome[] = [];
    for (const item of batch) {
      outcomes.push(this.runOne(item));
      if (!this.db.inTransaction) {
        // Some errors (disk full, I/O) make SQLite roll back the whole transaction by itself.
        const last = outcomes[outcomes.length - 1] as Outcome;
        const cause = last.ok ? new Error("transaction ended unexpectedly") : last.error;
        this.settleAborted(batch.slice(0, outcomes.length), outcomes, cause);
        return batch.slice(outcomes.length);
      }
    }
    try {
      this.end.run();
    } catch (error) {
      const mapped = this.hooks.mapError(error, "commit group");
      this.hooks.onTransactionFailed(mapped);
      this.abandon();
      this.settleAborted(batch, outcomes, mapped);
      return [];
    }
    this.hooks.onCommit(batch.length, outcomes.filter((outcome) => !outcome.ok).length);
    batch.forEach((item, index) => {
      const outcome = outcomes[index] as Outcome;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
    return [];
  }

  private runOne(item: Queued<Tx>): Outcome {
    this.savepoint.run();
    try {
      const value = item.work(this.tx);
      if (isThenable(value)) {
        throw new LedgerInvalidInputError("a group-commit closure must be synchronous; it returned a promise");
      }
      this.release.run();
      return { ok: true, value };
    } catch (error) {
      if (this.db.inTransaction) {
        this.rollbackTo.run();
        this.release.run();
      }
      this.hooks.onClosureFailed(error);
      return { ok: false, error };
    }
  }

  private abandon(): void {
    if (this.db.inTransaction) this.db.prepare("ROLLBACK").run();
  }

  private settleAborted(items: Queued<Tx>[], outcomes: Outcome[], cause: unknown): void {
    const error = this.hooks.mapError(cause, "group commit aborted");
    this.hooks.onTransactionFailed(error);
    items.forEach((item, index) => {
      const outcome = outcomes[index];
      item.reject(outcome && !outcome.ok ? outcome.error : error);
    });
  }
}

function isThenable(value: unknown): boolean {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

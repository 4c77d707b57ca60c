import type Database from "better-sqlite3";
import { layerLogger } from "../log.js";
import type { BorrowState } from "../vocabulary/index.js";
import { appendAudit, listAudit } from "./audit.js";
import * as borrows from "./borrows.js";
import { LedgerDiskFullError, LedgerInvalidInputError, LedgerIoError } from "./errors.js";
import { GroupCommitter } from "./group-commit.js";
import * as journal from "./journal.js";
import * as keys from "./keys.js";
import { mapLedgerError } from "./map-error.js";
import * as meta from "./meta.js";
import { LedgerStore } from "./store.js";
import { type ExportBody, exportLedger, importLedger } from "./transfer.js";
import type {
  AuditEntry,
  AuditQuery,
  BorrowPatch,
  BorrowQuery,
  BorrowRow,
  ImportSummary,
  KeyRow,
  KeyTouch,
  LedgerStats,
  NewAuditEntry,
  NewBorrow,
  NewOp,
  OpOutcome,
  OpRow,
} from "./types.js";

const log = layerLogger("ledger");

export { TAG_CONTEXT } from "./meta.js";

export interface LedgerContext {
  db: Database.Database;
  file: string;
  dir: string;
  clock: () => number;
  rebuilt: boolean;
}

/**
 * The durable ledger: pinned keys, borrows, the operation journal, the audit trail and the
 * server secret, in one SQLite file. Obtain it with `openLedger` or `quarantineAndCreate`.
 * All methods are synchronous (better-sqlite3); `commit` batches writes into group commits.
 * Each part lives in its own module (keys, borrows, journal, audit, meta); this class is their
 * one entry point.
 */
export class Ledger {
  readonly file: string;
  readonly dir: string;
  /** True when this ledger was just created in place of a corrupt one and must be rebuilt. */
  readonly rebuilt: boolean;
  private readonly store: LedgerStore;
  private readonly committer: GroupCommitter<Ledger>;
  private secret: Buffer = Buffer.alloc(0);
  private instance = "";
  private failure: Error | undefined;

  constructor(context: LedgerContext) {
    this.file = context.file;
    this.dir = context.dir;
    this.rebuilt = context.rebuilt;
    const store = new LedgerStore(context.db, context.file, context.clock);
    this.store = store;
    this.committer = new GroupCommitter<Ledger>(context.db, this, {
      mapError: (error, action) => mapLedgerError(error, this.file, action),
      onCommit: (closures, failed) => {
        if (failed === 0) this.failure = undefined;
        store.counters.commits += 1;
        store.counters.groupedWrites += closures;
        store.counters.failedWrites += failed;
      },
      onClosureFailed: (error) => {
        // A refused row (duplicate, bad input) says nothing about the ledger; a full disk or I/O does.
        if (error instanceof LedgerDiskFullError || error instanceof LedgerIoError) this.failure = error;
      },
      onTransactionFailed: (error) => {
        this.failure = error;
      },
    });
  }

  /**
   * False from a group commit (or one write in it) that the disk refused — disk full, I/O error —
   * until a later group commit succeeds whole: writes are being lost to the caller as errors, and an operator must look.
   */
  get healthy(): boolean {
    return this.failure === undefined;
  }

  /** The error of the last failed group commit while unhealthy. */
  get lastFailure(): Error | undefined {
    return this.failure;
  }

  /** Loads (or, on a writable fresh ledger, creates) the secret and instance id; verifies their checksums. */
  initialiseMeta(writable: boolean): void {
    const { secret, instance } = meta.initialiseMeta(this.store, writable);
    this.secret = secret;
    this.instance = instance;
  }

  get instanceId(): string {
    return this.instance;
  }

  stats(): LedgerStats {
    return { ...this.store.counters };
  }

  // ---- secret and tags ----------------------------------------------------------------

  serverSecret(): Buffer {
    this.store.ensureOpen("read server secret");
    return Buffer.from(this.secret);
  }

  /** The current secret first, then secrets adopted from imported ledgers (to recover their tags). */
  serverSecrets(): Buffer[] {
    const foreign = meta.foreignSecrets(this.store);
    return [this.serverSecret(), ...foreign];
  }

  /** First 16 bytes of HMAC-SHA256(secret, "keybridge-tag-v1" || opId): recoverable from the opId alone. */
  deriveTag(opId: Buffer | string, secret: Buffer = this.secret): Buffer {
    const bytes = meta.opIdBytes(opId);
    this.store.ensureOpen("derive tag");
    return meta.deriveTag(bytes, secret);
  }

  // ---- meta -----------------------------------------------------------------------------

  getMeta(key: string): string | undefined {
    return meta.getMeta(this.store, key);
  }

  setMeta(key: string, value: string): void {
    if (key === meta.SECRET_KEY || key === meta.INSTANCE_KEY) {
      throw new LedgerInvalidInputError(`meta key ${key} is managed by the ledger`);
    }
    this.store.write("write meta", () => meta.putMeta(this.store, key, value));
  }

  // ---- keys -----------------------------------------------------------------------------

  getPinnedKey(serial: string): KeyRow | undefined {
    return keys.getPinnedKey(this.store, serial);
  }

  /** Pins at first sight; the same key again is a no-op; a different key throws LEDGER_KEY_PINNED. */
  pinKey(serial: string, publicKey: string, now: number): KeyRow {
    return keys.pinKey(this.store, serial, publicKey, now);
  }

  /** Replaces a pin: only for an operator's explicit decision (or a forced import). */
  replacePinnedKey(serial: string, publicKey: string, now: number): KeyRow {
    return keys.replacePinnedKey(this.store, serial, publicKey, now);
  }

  touchKey(serial: string, touch: KeyTouch): KeyRow {
    return keys.touchKey(this.store, serial, touch);
  }

  listKeys(): KeyRow[] {
    return keys.listKeys(this.store);
  }

  // ---- borrows --------------------------------------------------------------------------

  insertBorrow(row: NewBorrow): BorrowRow {
    return borrows.insertBorrow(this.store, row);
  }

  /** Inserts or overwrites a whole row: for import and for rebuilding from the registry and the key. */
  upsertBorrow(row: BorrowRow): BorrowRow {
    return borrows.upsertBorrow(this.store, row);
  }

  /** Verifies the stored row before changing it, so a corrupt row is never re-checksummed as good. */
  updateBorrowState(serial: string, id: number, patch: BorrowPatch): BorrowRow {
    return borrows.updateBorrowState(this.store, serial, id, patch);
  }

  getBorrow(serial: string, id: number): BorrowRow | undefined {
    return borrows.getBorrow(this.store, serial, id);
  }

  getBorrowByOpId(opId: string): BorrowRow | undefined {
    return borrows.getBorrowByOpId(this.store, opId);
  }

  /** Active, returning and dummy borrows, every row checksum-verified. */
  listOutstanding(): BorrowRow[] {
    return borrows.listOutstanding(this.store);
  }

  listBorrows(query: BorrowQuery = {}): BorrowRow[] {
    return borrows.listBorrows(this.store, query);
  }

  countByState(): Record<BorrowState, number> {
    return borrows.countByState(this.store);
  }

  // ---- operation journal ----------------------------------------------------------------

  beginOp(op: NewOp): OpRow {
    return journal.beginOp(this.store, op);
  }

  /** Records the named step reached; `details` are merged into the op's details. */
  advanceOp(opId: string, step: string, details?: Record<string, unknown>): OpRow {
    return journal.advanceOp(this.store, opId, step, details);
  }

  /** Finishing twice with the same outcome is a no-op, so recovery may repeat itself. */
  finishOp(opId: string, outcome: Exclude<OpOutcome, "pending">, errorCode?: string): OpRow {
    return journal.finishOp(this.store, opId, outcome, errorCode);
  }

  /** Inserts or overwrites a whole journal row (import). */
  restoreOp(op: OpRow): OpRow {
    return journal.restoreOp(this.store, op);
  }

  getOp(opId: string): OpRow | undefined {
    return journal.getOp(this.store, opId);
  }

  listPendingOps(): OpRow[] {
    return journal.listPendingOps(this.store);
  }

  // ---- audit ----------------------------------------------------------------------------

  audit(entry: NewAuditEntry): number {
    return appendAudit(this.store, entry);
  }

  /** Newest first. */
  listAudit(query: AuditQuery): AuditEntry[] {
    return listAudit(this.store, query);
  }

  // ---- transactions ---------------------------------------------------------------------

  /** Runs `fn` in one immediate transaction (a savepoint when already inside one). */
  transaction<T>(fn: (tx: Ledger) => T): T {
    return this.store.write("transaction", () => fn(this));
  }

  /**
   * Queues a synchronous write; every closure queued in the same event-loop turn commits in one
   * SQLite transaction. A closure that throws is rolled back alone and rejects only its promise.
   */
  commit<T>(work: (tx: Ledger) => T): Promise<T> {
    return this.committer.commit(work);
  }

  /** Runs a synchronous read in one snapshot (a deferred transaction). */
  snapshot<T>(fn: () => T): T {
    return this.store.guard("read snapshot", () => this.store.runInTransaction.deferred(fn) as T);
  }

  /** Adopts another ledger's secret; refused once this ledger holds borrows whose tags came from its own. */
  adoptServerSecret(secret: Buffer, sourceInstanceId: string): boolean {
    return this.store.write("adopt server secret", () => {
      const adopted = meta.adoptServerSecret(this.store, this.secret, secret, sourceInstanceId);
      if (adopted) this.secret = Buffer.from(secret);
      return adopted;
    });
  }

  /** Writes what another host needs to take over the borrows (checksummed JSON, 0600, atomic). */
  export(file: string): ExportBody {
    return exportLedger(this, file, this.store.clock());
  }

  /** Verifies and merges an export; refuses conflicting outstanding borrows or pins unless `force`. */
  import(file: string, options: { force?: boolean } = {}): ImportSummary {
    return importLedger(this, file, { force: options.force ?? false, now: this.store.clock() });
  }

  close(): void {
    if (this.store.isClosed) return;
    try {
      this.committer.close();
    } finally {
      this.store.markClosed();
      this.store.db.close();
      log.debug("ledger closed", { file: this.file });
    }
  }
}

import { chmodSync, renameSync, rmSync, statSync } from "node:fs";
import type Database from "better-sqlite3";
import type { KeybridgeError } from "../errors.js";
import { layerLogger } from "../log.js";
import type { BorrowState } from "../vocabulary/index.js";
import { appendAudit, listAudit } from "./audit.js";
import * as borrows from "./borrows.js";
import { type CodeMeterObservationLedger, codeMeterObservations } from "./codemeter-observations.js";
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
  /** The file this ledger opened (device and inode): a file at the same path that differs is another file. */
  private readonly identity: { dev: number; ino: number } | undefined;

  constructor(context: LedgerContext) {
    this.file = context.file;
    this.dir = context.dir;
    this.rebuilt = context.rebuilt;
    const store = new LedgerStore(context.db, context.file, context.clock, {
      onFailed: (error) => this.noteFailure(error),
      onSucceeded: () => this.noteSuccess(),
    });
    this.store = store;
    this.identity = identityOf(context.file);
    this.committer = new GroupCommitter<Ledger>(context.db, this, {
      mapError: (error, action) => mapLedgerError(error, this.file, action),
      onCommit: (closures, failed) => {
        if (failed === 0) this.noteSuccess();
        store.counters.commits += 1;
        store.counters.groupedWrites += closures;
        store.counters.failedWrites += failed;
      },
      onClosureFailed: (error) => {
        // A refused row (duplicate, bad input) says nothing about the ledger; a full disk or I/O does.
        if (error instanceof LedgerDiskFullError || error instanceof LedgerIoError) this.noteFailure(error);
      },
      onTransactionFailed: (error) => {
        this.noteFailure(error);
      },
    });
  }

  /**
   * False from a write that the disk refused — disk full, I/O error — until a later write succeeds
   * whole (writes are being lost to the caller as errors, and an operator must look), and for good
   * once writes are refused (`refuseWrites`).
   */
  get healthy(): boolean {
    return this.failure === undefined;
  }

  /** Logged once per episode: the first failure, then nothing until writes succeed again. */
  private noteFailure(error: Error): void {
    if (this.failure === undefined) {
      log.error("ledger writes fail; operations that must be recorded are refused until a write succeeds again", {
        file: this.file,
        code: (error as { code?: unknown }).code,
        error: error.message,
      });
    }
    this.failure = error;
  }

  private noteSuccess(): void {
    if (this.failure === undefined || this.store.writeRefusal !== undefined) return;
    log.info("ledger writes succeed again", { file: this.file, after: this.failure.message });
    this.failure = undefined;
  }

  /**
   * Whether the file at this ledger's path is still the one it has open: `missing` when it was
   * deleted, `replaced` when another file took its place. Either way, what this ledger writes
   * from now on goes to a file the next start will not open.
   */
  fileState(): "present" | "missing" | "replaced" {
    if (this.identity === undefined) return "present";
    let now: { dev: number; ino: number } | undefined;
    try {
      now = identityOf(this.file, true);
    } catch (error) {
      throw mapLedgerError(error, this.file, "check the ledger file");
    }
    if (now === undefined) return "missing";
    return now.dev === this.identity.dev && now.ino === this.identity.ino ? "present" : "replaced";
  }

  /**
   * Throws what a write would fail with now, when that is known without trying: writes refused
   * (`refuseWrites`), or the disk full at the last write. For a caller about to do something only
   * a ledger write can make safe (a borrow takes a seat first, then records it).
   */
  assertWritable(): void {
    const refusal = this.store.writeRefusal;
    if (refusal !== undefined) throw refusal;
    if (this.failure instanceof LedgerDiskFullError) throw this.failure;
  }

  /** Every write from now on fails with `error`, and the ledger stays unhealthy until it is opened again. */
  refuseWrites(error: KeybridgeError): void {
    this.store.refuseWrites(error);
    this.noteFailure(error);
  }

  /**
   * Writes a complete copy of the open database to `file` (default: this ledger's own path),
   * atomically (a temporary file beside it, then a rename): after the ledger file was deleted, the
   * next start finds every record. Call it once writes are refused, so the copy stays complete.
   */
  async writeBack(file: string = this.file): Promise<void> {
    this.store.ensureOpen("write the ledger back");
    const temporary = `${file}.writeback-${process.pid}.tmp`;
    try {
      await this.store.db.backup(temporary);
      chmodSync(temporary, 0o600);
      renameSync(temporary, file);
    } catch (error) {
      rmSync(temporary, { force: true });
      throw mapLedgerError(error, file, "write the ledger back");
    }
  }

  /** The database's size now, in bytes (its pages, whether still in the WAL or already in the file). */
  sizeBytes(): number {
    return this.store.guard("read ledger size", () => {
      const { db } = this.store;
      return (
        (db.pragma("page_count", { simple: true }) as number) * (db.pragma("page_size", { simple: true }) as number)
      );
    });
  }

  /** Caps the ledger file's size (rounded down to whole pages); undefined lifts the cap. */
  capSize(bytes: number | undefined): void {
    this.store.guard("cap ledger size", () => {
      const pageSize = this.store.db.pragma("page_size", { simple: true }) as number;
      const pages = bytes === undefined ? 4_294_967_294 : Math.max(1, Math.floor(bytes / pageSize));
      this.store.db.pragma(`max_page_count = ${pages}`);
    });
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

  // ---- CodeMeter observations --------------------------------------------------------------

  /** The read-only CodeMeter mode's store: its own tables, never mixed with keybridge's borrows. */
  codeMeterObservations(): CodeMeterObservationLedger {
    return codeMeterObservations(this.store);
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
    const refusal = this.store.writeRefusal;
    if (refusal !== undefined) return Promise.reject(refusal);
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

/** Device and inode of `file`; undefined when it does not exist (or, unless `strict`, cannot be read). */
function identityOf(file: string, strict = false): { dev: number; ino: number } | undefined {
  try {
    const stat = statSync(file);
    return { dev: stat.dev, ino: stat.ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || !strict) return undefined;
    throw error;
  }
}

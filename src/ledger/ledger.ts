import { createHmac, randomBytes, randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import { layerLogger } from "../log.js";
import {
  LedgerClosedError,
  LedgerCorruptError,
  LedgerDuplicateError,
  LedgerInvalidInputError,
  LedgerKeyPinnedError,
  LedgerNotFoundError,
  LedgerOpFinishedError,
} from "./errors.js";
import { GroupCommitter } from "./group-commit.js";
import { mapLedgerError } from "./map-error.js";
import {
  BORROW_COLUMNS,
  borrowChecksum,
  borrowFromRaw,
  KEY_COLUMNS,
  keyChecksum,
  metaChecksum,
  OP_COLUMNS,
  opChecksum,
  opFromStored,
  type RawBorrow,
  rawBorrowTypesValid,
  type StoredKey,
  type StoredOp,
} from "./rows.js";
import { type ExportBody, exportLedger, importLedger } from "./transfer.js";
import {
  type AuditEntry,
  type AuditQuery,
  BORROW_STATES,
  type BorrowPatch,
  type BorrowQuery,
  type BorrowRow,
  type BorrowState,
  type ImportSummary,
  type KeyRow,
  type KeyTouch,
  type LedgerStats,
  type NewAuditEntry,
  type NewBorrow,
  type NewOp,
  type OpOutcome,
  type OpRow,
} from "./types.js";
import {
  requireBorrowState,
  requireClient,
  requireHex,
  requireInteger,
  requireNullableInteger,
  requireOpKind,
  requireOpOutcome,
  requireSerial,
} from "./validate.js";

const log = layerLogger("ledger");

export const TAG_CONTEXT = Buffer.from("keybridge-tag-v1", "utf8");
const SECRET_KEY = "server_secret";
const INSTANCE_KEY = "instance_id";
const FOREIGN_SECRET_PREFIX = "server_secret.";
const OUTSTANDING_SQL = "'active', 'returning', 'dummy'";

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
 */
export class Ledger {
  readonly file: string;
  readonly dir: string;
  /** True when this ledger was just created in place of a corrupt one and must be rebuilt. */
  readonly rebuilt: boolean;
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly runInTransaction: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly committer: GroupCommitter<Ledger>;
  private readonly counters: LedgerStats = { commits: 0, groupedWrites: 0, failedWrites: 0 };
  private secret: Buffer = Buffer.alloc(0);
  private instance = "";
  private closed = false;

  constructor(context: LedgerContext) {
    this.db = context.db;
    this.file = context.file;
    this.dir = context.dir;
    this.clock = context.clock;
    this.rebuilt = context.rebuilt;
    this.runInTransaction = this.db.transaction((fn: () => unknown) => fn());
    this.committer = new GroupCommitter<Ledger>(this.db, this, {
      mapError: (error, action) => mapLedgerError(error, this.file, action),
      onCommit: (closures, failed) => {
        this.counters.commits += 1;
        this.counters.groupedWrites += closures;
        this.counters.failedWrites += failed;
      },
    });
  }

  /** Loads (or, on a writable fresh ledger, creates) the secret and instance id; verifies their checksums. */
  initialiseMeta(writable: boolean): void {
    if (writable && this.getMeta(SECRET_KEY) === undefined) {
      this.write("create server secret", () => {
        this.putMeta(SECRET_KEY, randomBytes(32).toString("hex"));
        this.putMeta(INSTANCE_KEY, randomUUID());
      });
    }
    const secret = this.getMeta(SECRET_KEY);
    const instance = this.getMeta(INSTANCE_KEY);
    if (secret === undefined || instance === undefined) {
      throw new LedgerCorruptError(`ledger ${this.file} is corrupt: its server secret or instance id is missing`, {
        details: { file: this.file },
      });
    }
    this.secret = Buffer.from(requireHexOrCorrupt(this.file, "server secret", secret, 32), "hex");
    this.instance = instance;
  }

  get instanceId(): string {
    return this.instance;
  }

  stats(): LedgerStats {
    return { ...this.counters };
  }

  // ---- secret and tags ----------------------------------------------------------------

  serverSecret(): Buffer {
    this.ensureOpen("read server secret");
    return Buffer.from(this.secret);
  }

  /** The current secret first, then secrets adopted from imported ledgers (to recover their tags). */
  serverSecrets(): Buffer[] {
    const foreign = this.guard("list server secrets", () =>
      (
        this.stmt(
          `SELECT key, value, checksum FROM meta WHERE key LIKE '${FOREIGN_SECRET_PREFIX}%' ORDER BY key`,
        ).all() as {
          key: string;
          value: string;
          checksum: string;
        }[]
      ).map((row) => {
        this.verifyMeta(row.key, row.value, row.checksum);
        return Buffer.from(row.value, "hex");
      }),
    );
    return [this.serverSecret(), ...foreign];
  }

  /** First 16 bytes of HMAC-SHA256(secret, "keybridge-tag-v1" || opId): recoverable from the opId alone. */
  deriveTag(opId: Buffer | string, secret: Buffer = this.secret): Buffer {
    const bytes = typeof opId === "string" ? Buffer.from(requireHex("opId", opId, 16), "hex") : opId;
    if (bytes.length !== 16) throw new LedgerInvalidInputError(`opId must be 16 bytes, got ${bytes.length}`);
    this.ensureOpen("derive tag");
    return createHmac("sha256", secret).update(TAG_CONTEXT).update(bytes).digest().subarray(0, 16);
  }

  // ---- meta -----------------------------------------------------------------------------

  getMeta(key: string): string | undefined {
    return this.guard("read meta", () => {
      const row = this.stmt("SELECT value, checksum FROM meta WHERE key = ?").get(key) as
        | { value: string; checksum: string }
        | undefined;
      if (row === undefined) return undefined;
      this.verifyMeta(key, row.value, row.checksum);
      return row.value;
    });
  }

  setMeta(key: string, value: string): void {
    if (key === SECRET_KEY || key === INSTANCE_KEY) {
      throw new LedgerInvalidInputError(`meta key ${key} is managed by the ledger`);
    }
    this.write("write meta", () => this.putMeta(key, value));
  }

  // ---- keys -----------------------------------------------------------------------------

  getPinnedKey(serial: string): KeyRow | undefined {
    return this.guard("read pinned key", () => {
      const row = this.stmt(`SELECT ${KEY_COLUMNS} FROM keys WHERE serial = ?`).get(serial) as StoredKey | undefined;
      return row === undefined ? undefined : this.verifyKey(row);
    });
  }

  /** Pins at first sight; the same key again is a no-op; a different key throws LEDGER_KEY_PINNED. */
  pinKey(serial: string, publicKey: string, now: number): KeyRow {
    requireSerial(serial);
    requireHex("publicKey", publicKey, 32);
    requireInteger("now", now);
    return this.write("pin key", () => {
      const existing = this.getPinnedKey(serial);
      if (existing !== undefined) {
        if (existing.publicKey === publicKey) return existing;
        throw new LedgerKeyPinnedError(`key ${serial} is pinned to a different public key`, {
          details: { serial, pinned: existing.publicKey, offered: publicKey },
        });
      }
      this.stmt(
        `INSERT INTO keys (serial, public_key, first_seen, last_seen, checksum) VALUES (?, unhex(?), ?, ?, ?)`,
      ).run(serial, publicKey, now, now, keyChecksum(serial, publicKey, now));
      return this.getPinnedKey(serial) as KeyRow;
    });
  }

  /** Replaces a pin: only for an operator's explicit decision (or a forced import). */
  replacePinnedKey(serial: string, publicKey: string, now: number): KeyRow {
    requireSerial(serial);
    requireHex("publicKey", publicKey, 32);
    return this.write("replace pinned key", () => {
      this.stmt("DELETE FROM keys WHERE serial = ?").run(serial);
      return this.pinKey(serial, publicKey, now);
    });
  }

  touchKey(serial: string, touch: KeyTouch): KeyRow {
    requireInteger("lastSeen", touch.lastSeen);
    if (touch.lastBinding != null) requireHex("lastBinding", touch.lastBinding, 32);
    requireNullableInteger("licenseSetVersion", touch.licenseSetVersion);
    return this.write("touch key", () => {
      const info = this.stmt(
        `UPDATE keys SET last_seen = @lastSeen,
           last_binding = CASE WHEN @setBinding THEN @lastBinding ELSE last_binding END,
           license_set_version = CASE WHEN @setVersion THEN @version ELSE license_set_version END
         WHERE serial = @serial`,
      ).run({
        serial,
        lastSeen: touch.lastSeen,
        setBinding: touch.lastBinding === undefined ? 0 : 1,
        lastBinding: touch.lastBinding ?? null,
        setVersion: touch.licenseSetVersion === undefined ? 0 : 1,
        version: touch.licenseSetVersion ?? null,
      });
      if (info.changes === 0) throw new LedgerNotFoundError(`key ${serial} is not pinned`, { details: { serial } });
      return this.getPinnedKey(serial) as KeyRow;
    });
  }

  listKeys(): KeyRow[] {
    return this.guard("list keys", () =>
      (this.stmt(`SELECT ${KEY_COLUMNS} FROM keys ORDER BY serial`).all() as StoredKey[]).map((row) =>
        this.verifyKey(row),
      ),
    );
  }

  // ---- borrows --------------------------------------------------------------------------

  insertBorrow(row: NewBorrow): BorrowRow {
    const now = this.clock();
    const full = validateBorrow({
      ...row,
      dummyUntil: row.dummyUntil ?? null,
      settleOpId: row.settleOpId ?? null,
      createdAt: row.createdAt ?? now,
      updatedAt: row.updatedAt ?? row.createdAt ?? now,
    });
    return this.write("insert borrow", () => {
      try {
        this.stmt(INSERT_BORROW).run({ ...full, checksum: borrowChecksum(full) });
      } catch (error) {
        const mapped = mapLedgerError(error, this.file, "insert borrow");
        if (mapped instanceof LedgerDuplicateError) {
          throw new LedgerDuplicateError(
            `borrow ${full.serial}/${full.id} or its opId ${full.opId} is already recorded`,
            { cause: error, details: { serial: full.serial, id: full.id, opId: full.opId } },
          );
        }
        throw mapped;
      }
      return full;
    });
  }

  /** Inserts or overwrites a whole row: for import and for rebuilding from the registry and the key. */
  upsertBorrow(row: BorrowRow): BorrowRow {
    const full = validateBorrow(row);
    return this.write("upsert borrow", () => {
      this.stmt("DELETE FROM borrows WHERE (serial = ? AND id = ?) OR op_id = ?").run(full.serial, full.id, full.opId);
      this.stmt(INSERT_BORROW).run({ ...full, checksum: borrowChecksum(full) });
      return full;
    });
  }

  /** Verifies the stored row before changing it, so a corrupt row is never re-checksummed as good. */
  updateBorrowState(serial: string, id: number, patch: BorrowPatch): BorrowRow {
    return this.write("update borrow", () => {
      const current = this.getBorrow(serial, id);
      if (current === undefined) {
        throw new LedgerNotFoundError(`borrow ${serial}/${id} is not in the ledger`, { details: { serial, id } });
      }
      const next = validateBorrow({ ...current, ...definedFields(patch), updatedAt: patch.updatedAt ?? this.clock() });
      this.stmt(
        `UPDATE borrows SET state = @state, dummy_until = @dummyUntil, settle_op_id = @settleOpId, binding = @binding,
           issued_at = @issuedAt, expires_at = @expiresAt, updated_at = @updatedAt, checksum = @checksum
         WHERE serial = @serial AND id = @id`,
      ).run({ ...next, checksum: borrowChecksum(next) });
      return next;
    });
  }

  getBorrow(serial: string, id: number): BorrowRow | undefined {
    return this.guard("read borrow", () => {
      const row = this.rawStmt(`SELECT ${BORROW_COLUMNS} FROM borrows WHERE serial = ? AND id = ?`).get(serial, id) as
        | RawBorrow
        | undefined;
      return row === undefined ? undefined : this.verifyBorrows([row])[0];
    });
  }

  getBorrowByOpId(opId: string): BorrowRow | undefined {
    return this.guard("read borrow by opId", () => {
      const raw = this.rawStmt(`SELECT ${BORROW_COLUMNS} FROM borrows WHERE op_id = ?`).get(opId) as
        | RawBorrow
        | undefined;
      const row = raw === undefined ? undefined : this.verifyBorrows([raw])[0];
      // The lookup went through the op_id index; a damaged index entry may point at another row.
      if (row !== undefined && row.opId !== opId)
        throw this.rowCorrupt(`the op_id index points ${opId} at ${row.serial}/${row.id}`, { opId });
      return row;
    });
  }

  /** Active, returning and dummy borrows, every row checksum-verified. */
  listOutstanding(): BorrowRow[] {
    return this.guard("list outstanding borrows", () =>
      this.verifyBorrows(
        // A table scan on purpose ("+state" keeps the planner off the index): the list the daemon acts
        // on must not depend on an index that quick_check does not verify. 100 000 rows scan in ~25 ms.
        this.rawStmt(
          `SELECT ${BORROW_COLUMNS} FROM borrows WHERE +state IN (${OUTSTANDING_SQL}) ORDER BY serial, id`,
        ).iterate() as IterableIterator<RawBorrow>,
      ),
    );
  }

  listBorrows(query: BorrowQuery = {}): BorrowRow[] {
    const states = query.states?.map(requireBorrowState);
    if (states !== undefined && states.length === 0) return [];
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.serial !== undefined) {
      where.push("serial = ?");
      params.push(query.serial);
    }
    if (states !== undefined) {
      where.push(`state IN (${states.map(() => "?").join(", ")})`);
      params.push(...states);
    }
    const limit = query.limit === undefined ? -1 : requireInteger("limit", query.limit);
    const offset = query.offset === undefined ? 0 : requireInteger("offset", query.offset);
    const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
    return this.guard("list borrows", () => {
      const rows = this.verifyBorrows(
        this.rawStmt(`SELECT ${BORROW_COLUMNS} FROM borrows ${filter} ORDER BY serial, id LIMIT ? OFFSET ?`).iterate(
          ...params,
          limit,
          offset,
        ) as IterableIterator<RawBorrow>,
      );
      // A state filter may be served by the state index; a damaged entry must not smuggle in another state.
      const stray = states === undefined ? undefined : rows.find((row) => !states.includes(row.state));
      if (stray !== undefined) {
        throw this.rowCorrupt(`the state index returned ${stray.serial}/${stray.id} in state ${stray.state}`, {
          serial: stray.serial,
          id: stray.id,
        });
      }
      return rows;
    });
  }

  countByState(): Record<BorrowState, number> {
    return this.guard("count borrows", () => {
      const counts = Object.fromEntries(BORROW_STATES.map((state) => [state, 0])) as Record<BorrowState, number>;
      const rows = this.stmt("SELECT state, count(*) AS n FROM borrows GROUP BY state").all() as {
        state: BorrowState;
        n: number;
      }[];
      for (const row of rows) counts[row.state] = row.n;
      return counts;
    });
  }

  // ---- operation journal ----------------------------------------------------------------

  beginOp(op: NewOp): OpRow {
    const row: OpRow = {
      opId: requireHex("opId", op.opId, 16),
      kind: requireOpKind(op.kind),
      serial: requireSerial(op.serial),
      borrowId: requireNullableInteger("borrowId", op.borrowId),
      step: op.step ?? "begun",
      outcome: "pending",
      errorCode: null,
      startedAt: op.startedAt ?? this.clock(),
      finishedAt: null,
      details: op.details ?? {},
    };
    return this.write("begin op", () => {
      if (this.getOp(row.opId) !== undefined) {
        throw new LedgerDuplicateError(`op ${row.opId} is already in the journal`, { details: { opId: row.opId } });
      }
      this.storeOp(row);
      return row;
    });
  }

  /** Records the named step reached; `details` are merged into the op's details. */
  advanceOp(opId: string, step: string, details?: Record<string, unknown>): OpRow {
    return this.write("advance op", () => {
      const current = this.requirePendingOp(opId, "advance");
      const next: OpRow = { ...current, step, details: { ...current.details, ...details } };
      this.storeOp(next);
      return next;
    });
  }

  /** Finishing twice with the same outcome is a no-op, so recovery may repeat itself. */
  finishOp(opId: string, outcome: Exclude<OpOutcome, "pending">, errorCode?: string): OpRow {
    if (requireOpOutcome(outcome) === "pending") throw new LedgerInvalidInputError("finishOp needs a final outcome");
    return this.write("finish op", () => {
      const current = this.getOp(opId);
      if (current !== undefined && current.outcome === outcome) return current;
      const pending = this.requirePendingOp(opId, "finish");
      const next: OpRow = { ...pending, outcome, errorCode: errorCode ?? null, finishedAt: this.clock() };
      this.storeOp(next);
      return next;
    });
  }

  /** Inserts or overwrites a whole journal row (import). */
  restoreOp(op: OpRow): OpRow {
    requireHex("opId", op.opId, 16);
    requireOpKind(op.kind);
    requireOpOutcome(op.outcome);
    return this.write("restore op", () => {
      this.storeOp(op);
      return op;
    });
  }

  getOp(opId: string): OpRow | undefined {
    return this.guard("read op", () => {
      const row = this.stmt(`SELECT ${OP_COLUMNS} FROM ops WHERE op_id = ?`).get(opId) as StoredOp | undefined;
      return row === undefined ? undefined : this.verifyOp(row);
    });
  }

  listPendingOps(): OpRow[] {
    return this.guard("list pending ops", () =>
      // Table scan, like listOutstanding: recovery must not depend on an index quick_check does not verify.
      (
        this.stmt(
          `SELECT ${OP_COLUMNS} FROM ops WHERE +outcome = 'pending' ORDER BY started_at, op_id`,
        ).all() as StoredOp[]
      ).map((row) => this.verifyOp(row)),
    );
  }

  // ---- audit ----------------------------------------------------------------------------

  audit(entry: NewAuditEntry): number {
    return this.write("append audit entry", () => {
      const info = this.stmt(
        "INSERT INTO audit (at, kind, serial, borrow_id, message, details) VALUES (?, ?, ?, ?, ?, ?)",
      ).run(
        entry.at ?? this.clock(),
        entry.kind,
        entry.serial ?? null,
        entry.borrowId ?? null,
        entry.message,
        JSON.stringify(entry.details ?? {}),
      );
      return Number(info.lastInsertRowid);
    });
  }

  /** Newest first. */
  listAudit(query: AuditQuery): AuditEntry[] {
    const limit = requireInteger("limit", query.limit);
    return this.guard("list audit", () => {
      const rows = this.stmt(
        `SELECT id, at, kind, serial, borrow_id AS borrowId, message, details FROM audit
         WHERE (@since IS NULL OR at >= @since) AND (@kind IS NULL OR kind = @kind) ORDER BY id DESC LIMIT @limit`,
      ).all({ since: query.since ?? null, kind: query.kind ?? null, limit }) as (Omit<AuditEntry, "details"> & {
        details: string;
      })[];
      return rows.map((row) => ({ ...row, details: JSON.parse(row.details) as Record<string, unknown> }));
    });
  }

  // ---- transactions ---------------------------------------------------------------------

  /** Runs `fn` in one immediate transaction (a savepoint when already inside one). */
  transaction<T>(fn: (tx: Ledger) => T): T {
    return this.write("transaction", () => fn(this));
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
    return this.guard("read snapshot", () => this.runInTransaction.deferred(fn) as T);
  }

  /** Adopts another ledger's secret; refused once this ledger holds borrows whose tags came from its own. */
  adoptServerSecret(secret: Buffer, sourceInstanceId: string): boolean {
    return this.write("adopt server secret", () => {
      if (secret.equals(this.secret)) return false;
      const holdsBorrows =
        (this.stmt("SELECT 1 FROM borrows LIMIT 1").get() ?? this.stmt("SELECT 1 FROM ops LIMIT 1").get()) !==
        undefined;
      if (holdsBorrows) {
        this.putMeta(`${FOREIGN_SECRET_PREFIX}${sourceInstanceId}`, secret.toString("hex"));
        return false;
      }
      this.putMeta(SECRET_KEY, secret.toString("hex"));
      this.secret = Buffer.from(secret);
      return true;
    });
  }

  /** Writes what another host needs to take over the borrows (checksummed JSON, 0600, atomic). */
  export(file: string): ExportBody {
    return exportLedger(this, file, this.clock());
  }

  /** Verifies and merges an export; refuses conflicting outstanding borrows or pins unless `force`. */
  import(file: string, options: { force?: boolean } = {}): ImportSummary {
    return importLedger(this, file, { force: options.force ?? false, now: this.clock() });
  }

  close(): void {
    if (this.closed) return;
    try {
      this.committer.close();
    } finally {
      this.closed = true;
      this.db.close();
      log.debug("ledger closed", { file: this.file });
    }
  }

  // ---- internals ------------------------------------------------------------------------

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private rawStmt(sql: string): Database.Statement {
    const key = `raw:${sql}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare(sql).raw(true);
      this.statements.set(key, statement);
    }
    return statement;
  }

  private ensureOpen(action: string): void {
    if (this.closed) throw new LedgerClosedError(`the ledger ${this.file} is closed (${action})`);
  }

  private guard<T>(action: string, fn: () => T): T {
    this.ensureOpen(action);
    try {
      return fn();
    } catch (error) {
      throw mapLedgerError(error, this.file, action);
    }
  }

  private write<T>(action: string, fn: () => T): T {
    return this.guard(action, () => {
      const outermost = !this.db.inTransaction;
      const result = this.runInTransaction.immediate(fn) as T;
      if (outermost) this.counters.commits += 1;
      return result;
    });
  }

  private putMeta(key: string, value: string): void {
    this.stmt("INSERT OR REPLACE INTO meta (key, value, checksum) VALUES (?, ?, ?)").run(
      key,
      value,
      metaChecksum(key, value),
    );
  }

  private storeOp(op: OpRow): void {
    const stored = { ...op, details: JSON.stringify(op.details) };
    this.stmt(
      `INSERT OR REPLACE INTO ops (op_id, kind, serial, borrow_id, step, outcome, error_code, started_at, finished_at,
         details, checksum)
       VALUES (@opId, @kind, @serial, @borrowId, @step, @outcome, @errorCode, @startedAt, @finishedAt, @details, @checksum)`,
    ).run({ ...stored, checksum: opChecksum(stored) });
  }

  private requirePendingOp(opId: string, verb: string): OpRow {
    const current = this.getOp(opId);
    if (current === undefined) throw new LedgerNotFoundError(`op ${opId} is not in the journal`, { details: { opId } });
    if (current.outcome !== "pending") {
      throw new LedgerOpFinishedError(`cannot ${verb} op ${opId}: it already finished as ${current.outcome}`, {
        details: { opId, outcome: current.outcome },
      });
    }
    return current;
  }

  private verifyMeta(key: string, value: string, checksum: string): void {
    if (metaChecksum(key, value) !== checksum) throw this.rowCorrupt(`meta entry ${key} fails its checksum`, { key });
  }

  private verifyKey(row: StoredKey): KeyRow {
    const { checksum, publicKey: raw, ...rest } = row;
    const publicKey = Buffer.isBuffer(raw) ? raw.toString("hex") : undefined;
    if (publicKey === undefined || keyChecksum(row.serial, publicKey, row.firstSeen) !== checksum) {
      throw this.rowCorrupt(`pinned key ${row.serial} fails its checksum`, { serial: row.serial });
    }
    return { ...rest, publicKey };
  }

  private verifyOp(row: StoredOp): OpRow {
    if (opChecksum(row) !== row.checksum)
      throw this.rowCorrupt(`journal op ${row.opId} fails its checksum`, { opId: row.opId });
    return opFromStored(row);
  }

  /** Checks every row and names all bad ones, so an operator sees the extent of the damage at once. */
  /** Streams rows (iterate, not all) so 100 000 raw rows and their objects are never held together. */
  private verifyBorrows(rows: Iterable<RawBorrow>): BorrowRow[] {
    const out: BorrowRow[] = [];
    const bad: { serial: string; id: number }[] = [];
    for (const raw of rows) {
      const row = borrowFromRaw(raw);
      if (!rawBorrowTypesValid(raw) || borrowChecksum(row) !== raw[14]) bad.push({ serial: row.serial, id: row.id });
      out.push(row);
    }
    if (bad.length > 0) {
      const names = bad.slice(0, 10).map((row) => `${row.serial}/${row.id}`);
      throw this.rowCorrupt(`${bad.length} borrow row(s) fail their checksum (${names.join(", ")})`, {
        badRows: bad.length,
        rows: bad.slice(0, 100),
      });
    }
    return out;
  }

  private rowCorrupt(what: string, details: Record<string, unknown>): LedgerCorruptError {
    log.error("ledger row checksum mismatch", { file: this.file, ...details });
    return new LedgerCorruptError(
      `ledger ${this.file} is corrupt: ${what}; quarantine it and rebuild from the registry and the key`,
      { details: { file: this.file, ...details } },
    );
  }
}

const INSERT_BORROW = `INSERT INTO borrows (serial, id, op_id, product, client, issued_at, expires_at, binding, tag, state,
    dummy_until, settle_op_id, created_at, updated_at, checksum)
  VALUES (@serial, @id, @opId, @product, @client, @issuedAt, @expiresAt, @binding, @tag, @state,
    @dummyUntil, @settleOpId, @createdAt, @updatedAt, @checksum)`;

function validateBorrow(row: BorrowRow): BorrowRow {
  return {
    serial: requireSerial(row.serial),
    id: requireInteger("id", row.id),
    opId: requireHex("opId", row.opId, 16),
    product: requireInteger("product", row.product),
    client: requireClient(row.client),
    issuedAt: requireInteger("issuedAt", row.issuedAt),
    expiresAt: requireInteger("expiresAt", row.expiresAt),
    binding: requireHex("binding", row.binding, 32),
    tag: requireHex("tag", row.tag, 16),
    state: requireBorrowState(row.state),
    dummyUntil: requireNullableInteger("dummyUntil", row.dummyUntil),
    settleOpId: row.settleOpId == null ? null : requireHex("settleOpId", row.settleOpId, 16),
    createdAt: requireInteger("createdAt", row.createdAt),
    updatedAt: requireInteger("updatedAt", row.updatedAt),
  };
}

function definedFields(patch: BorrowPatch): BorrowPatch {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as BorrowPatch;
}

function requireHexOrCorrupt(file: string, name: string, value: string, bytes: number): string {
  try {
    return requireHex(name, value, bytes);
  } catch (error) {
    throw new LedgerCorruptError(`ledger ${file} is corrupt: its ${name} is malformed`, {
      cause: error,
      details: { file },
    });
  }
}

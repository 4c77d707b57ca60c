import { randomBytes } from "node:crypto";
import { filter, type Subscription } from "rxjs";
import { isCodedError } from "../errors.js";
import { isKeyRefusal } from "../key/index.js";
import type { BorrowRow, Ledger, OpRow } from "../ledger/index.js";
import { layerLogger } from "../log.js";
import { type BorrowRecord, Status } from "../protocol/index.js";
import type { ParsedEntry } from "../registry/index.js";
import { KeyDisconnected } from "../transport/index.js";
import { type BorrowState, borrowKey, OUTSTANDING_STATES } from "../vocabulary/index.js";
import type { BorrowIndex } from "./borrow-index.js";
import type { BorrowLocks } from "./borrow-locks.js";
import { crashPoint } from "./crash-points.js";
import type { EventBus } from "./event-bus.js";
import type { DummyRecorder } from "./key-dummies.js";
import type { KeyManager } from "./key-manager.js";
import type { KeySession } from "./key-session.js";
import type { Mirror } from "./mirror.js";
import { UNKNOWN_TAG } from "./tag-unknown.js";

const log = layerLogger("bridge");

export interface RecoveryReport {
  serial: string;
  completedSettles: number;
  rolledBack: number;
  markedSettled: number;
  dummies: number;
  adopted: number;
  /** Adopted borrows whose tag could not be recovered: marked with the unknown-tag sentinel. */
  tagsUnknown: number;
  finishedOps: number;
}

/** What recovery reads from the ledger, the key and the registry, and what it writes. */
export interface RecoveryInputs {
  readonly ledger: Pick<
    Ledger,
    | "audit"
    | "commit"
    | "deriveTag"
    | "getBorrow"
    | "getBorrowByOpId"
    | "listAudit"
    | "listBorrows"
    | "listPendingOps"
    | "rebuilt"
  >;
  readonly index: Pick<BorrowIndex, "all" | "put">;
  /** Recovery follows each key's `attached` step and lets it serve when done. */
  readonly keys: Pick<KeyManager, "call" | "lifecycle$" | "markDisconnected" | "markRecovered" | "serveUnrecovered">;
  /** The registry's entries are the source of tags when the ledger was rebuilt. */
  readonly mirror: Pick<Mirror, "markDirty" | "read">;
  readonly events: Pick<EventBus, "emit">;
  readonly locks: Pick<BorrowLocks, "isLocked" | "isUnrecorded">;
  readonly dummies: Pick<DummyRecorder, "record">;
  /** The current host binding, lower-case hex. */
  binding(): string;
  /**
   * The ledger file was missing at start: a record bound to this host that it does not know was
   * made under a lost ledger, not left by a crash of this one, so it is adopted, never rolled back
   * (rolling back would SETTLE it with a tag of the new secret and make a Borrow Dummy).
   */
  readonly freshLedger: boolean;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const bytes = (text: string): Buffer => Buffer.from(text, "hex");

/**
 * Brings the ledger and the key back into agreement after a crash or a reattach, before the key
 * serves anything. Reads the key's records (all pages) and the ledger's pending journal, then:
 * (a) finishes interrupted settles with their SAME opId (K2), (b) rolls back key records the
 * ledger never acknowledged (or adopts them when the ledger was just rebuilt), (c) marks ledger
 * rows the key no longer holds as settled, (d) mirrors the key's dummies into the ledger.
 */
export class Recovery {
  private readonly following: Subscription;

  /** Follows the keys' lifecycle from now on: every key that attaches is recovered before it serves. */
  constructor(private readonly inputs: RecoveryInputs) {
    this.following = inputs.keys.lifecycle$
      .pipe(filter((event) => event.phase === "attached"))
      .subscribe(({ session }) => void this.recoverAttached(session));
  }

  close(): void {
    this.following.unsubscribe();
  }

  private async recoverAttached(session: KeySession): Promise<void> {
    const { keys } = this.inputs;
    try {
      await this.recoverKey(session);
    } catch (error) {
      if (error instanceof KeyDisconnected) {
        keys.markDisconnected(session, error);
        return;
      }
      log.error("recovery after attach failed; the key is served and recovery runs again on the next attach", {
        serial: session.serial,
        error: String(error),
      });
      keys.serveUnrecovered(session);
      return;
    }
    keys.markRecovered(session);
  }

  /** Registry entries by `serial/id`: the source of tags when the ledger was rebuilt. */
  private async registryEntries(): Promise<Map<string, ParsedEntry>> {
    const { entries } = await this.inputs.mirror.read();
    return new Map(entries.map((entry) => [borrowKey(entry.borrow.serial, entry.borrow.id), entry]));
  }

  /** From the quarantine's audit entry: did the rebuilt ledger keep the old server secret? */
  private salvagedSecret: boolean | undefined;

  /** Set while the bridge starts; see `duringStart`. */
  private indexHoldsLedger = false;

  /**
   * Runs the start's key recoveries. Until the bridge is open nothing but recovery writes the ledger,
   * and recovery puts every row it changes into the index, so the index (loaded from the ledger's
   * checksum-verified outstanding rows moments before) holds exactly what the ledger would list. The
   * key's outstanding rows are taken from it then: the ledger query walks every history row of the
   * key, twice per key, which a long history makes a visible part of the time to ready
   * (`ready_ms_100k`). Later attaches, which may race with operations between their commit and
   * their index update, still ask the ledger.
   */
  async duringStart<T>(work: () => Promise<T>): Promise<T> {
    this.indexHoldsLedger = true;
    try {
      return await work();
    } finally {
      this.indexHoldsLedger = false;
    }
  }

  async recoverKey(session: KeySession): Promise<RecoveryReport> {
    const { ledger, keys } = this.inputs;
    const serial = session.serial;
    const report: RecoveryReport = {
      serial,
      completedSettles: 0,
      rolledBack: 0,
      markedSettled: 0,
      dummies: 0,
      adopted: 0,
      tagsUnknown: 0,
      finishedOps: 0,
    };
    const records = await keys.call(session, (client) => client.listAllBorrows());
    crashPoint("recovery.after-key");
    const onKey = new Map(records.map((record) => [record.id, record]));
    // Only the serial's outstanding rows: the key's history may be long, and reading and verifying
    // all of it would slow every attach. A key record matching none of them
    // (rare: the key holds at most its borrowable seats) is looked up by itself in the history.
    const rows = this.outstandingRows(serial, OUTSTANDING_STATES);
    const byOpId = new Map(rows.map((row) => [row.opId, row]));
    const byId = new Map(rows.map((row) => [row.id, row]));
    const pending = ledger.listPendingOps().filter((op) => op.serial === serial);
    const pendingById = new Map(pending.map((op) => [op.opId, op]));

    // (a) interrupted returns and settles.
    for (const row of rows) {
      if (row.state !== "returning") continue;
      if (this.inputs.locks.isLocked(serial, row.id)) continue;
      await this.completeSettle(session, row, onKey.get(row.id), pendingById);
      report.completedSettles++;
    }

    // Rebinds and license updates left pending: settle the journal from what the key shows.
    for (const op of pending) {
      if (op.kind === "rebind") {
        await this.completeRebind(op, onKey);
        report.finishedOps++;
      } else if (op.kind === "license-update") {
        const version = session.info.licenseSetVersion;
        const before = Number(op.details.licenseSetVersionBefore ?? Number.NaN);
        await ledger.commit((tx) => tx.finishOp(op.opId, version > before ? "done" : "failed", "INTERRUPTED"));
        report.finishedOps++;
      }
    }

    // (b) key records the ledger does not know; (d) key dummies.
    const binding = this.inputs.binding();
    let registry: Map<string, ParsedEntry> | undefined;
    for (const record of records) {
      const opId = hex(record.opId);
      const row =
        byOpId.get(opId) ??
        this.historyByOpId(serial, opId) ??
        byId.get(record.id) ??
        ledger.getBorrow(serial, record.id);
      if (row === undefined) {
        if (this.inputs.locks.isUnrecorded(opId)) continue;
        if (ledger.rebuilt) {
          registry ??= await this.registryEntries();
          if (!(await this.adopt(serial, record, registry.get(borrowKey(serial, record.id))))) report.tagsUnknown++;
          report.adopted++;
        } else if (record.state === "active" && hex(record.binding) === binding) {
          if (this.inputs.freshLedger) {
            registry ??= await this.registryEntries();
            if (!(await this.adopt(serial, record, registry.get(borrowKey(serial, record.id))))) report.tagsUnknown++;
            report.adopted++;
          } else {
            await this.rollBack(session, record);
            report.rolledBack++;
          }
        } else if (record.state === "dummy") {
          report.dummies += (
            await this.inputs.dummies.record(session, [record], { cause: "the key's listing on attach" })
          ).length;
        } else {
          log.warn("the key holds a borrow of another host that the ledger does not know; left alone", {
            serial,
            id: record.id,
          });
        }
        continue;
      }
      if (record.state === "dummy" && (row.state !== "dummy" || row.dummyUntil !== (record.dummyUntil ?? null))) {
        report.dummies += (
          await this.inputs.dummies.record(session, [record], { cause: "the key's listing on attach" })
        ).length;
      }
    }

    // (c) ledger rows the key no longer holds.
    for (const row of this.outstandingRows(serial, ["active", "dummy"])) {
      if (onKey.has(row.id)) continue;
      if (this.inputs.locks.isLocked(serial, row.id)) continue;
      const updated = await ledger.commit((tx) => {
        const next = tx.updateBorrowState(serial, row.id, { state: "settled" });
        tx.audit({
          kind: "settled",
          serial,
          borrowId: row.id,
          message:
            row.state === "dummy"
              ? `borrow dummy ${row.id} cleared on key ${serial}`
              : `borrow ${row.id} is no longer on key ${serial} (settled or expired there); marked settled`,
        });
        return next;
      });
      this.track(updated);
      report.markedSettled++;
    }

    if (report.adopted > 0) {
      const lost =
        report.tagsUnknown === 0
          ? ""
          : `; the tags of ${report.tagsUnknown} were lost with the ledger and the registry (returning them would make dummies)`;
      const message = `ledger rebuilt: ${report.adopted} borrow(s) of key ${serial} adopted from the key and the registry${lost}`;
      ledger.audit({ kind: "ledger-rebuilt", serial, message, details: { ...report } });
      this.inputs.events.emit("ledger.rebuilt", message, { serial, details: { ...report } });
      if (report.tagsUnknown > 0) log.error("borrow tags lost with the ledger and the registry", { ...report });
    }
    const changed =
      report.completedSettles +
      report.rolledBack +
      report.markedSettled +
      report.dummies +
      report.adopted +
      report.finishedOps;
    if (changed > 0) {
      log.info("recovery done", { ...report });
      // Settles and rollbacks were sent by recovery (some as replays the counts cannot tell apart): list again.
      await session.refreshLicenses().catch((error: unknown) => {
        log.warn("listing the key's licenses after recovery failed; seat counts stay as last known", {
          serial,
          code: isCodedError(error) ? error.code : undefined,
          error: String(error),
        });
      });
    }
    return report;
  }

  /**
   * Whether a tag derived now from an opId equals the one the borrow was made with: not when the
   * ledger file was missing (a new secret), nor when a rebuilt ledger could not salvage its secret.
   */
  private secretIsOriginal(): boolean {
    if (this.inputs.freshLedger) return false;
    if (!this.inputs.ledger.rebuilt) return true;
    this.salvagedSecret ??= this.inputs.ledger
      .listAudit({ kind: "ledger-rebuilt", limit: 50 })
      .some((entry) => entry.details.salvagedSecret === true);
    return this.salvagedSecret;
  }

  /** The key's rows in these states, in id order. */
  private outstandingRows(serial: string, states: readonly BorrowState[]): BorrowRow[] {
    if (!this.indexHoldsLedger) return this.inputs.ledger.listBorrows({ serial, states: [...states] });
    const rows: BorrowRow[] = [];
    for (const { row } of this.inputs.index.all())
      if (row.serial === serial && states.includes(row.state)) rows.push(row);
    return rows.sort((a, b) => a.id - b.id);
  }

  /** A row of this key with the opId among the ledger's history (returned, settled, rolled back). */
  private historyByOpId(serial: string, opId: string): BorrowRow | undefined {
    const row = this.inputs.ledger.getBorrowByOpId(opId);
    return row?.serial === serial ? row : undefined;
  }

  private track(row: BorrowRow): void {
    this.inputs.index.put(row);
    this.inputs.mirror.markDirty(row.serial, row.id);
  }

  private async completeSettle(
    session: KeySession,
    row: BorrowRow,
    record: BorrowRecord | undefined,
    pendingById: Map<string, OpRow>,
  ): Promise<void> {
    const { ledger, keys } = this.inputs;
    const settleOpId = row.settleOpId ?? randomBytes(16).toString("hex");
    const op = pendingById.get(settleOpId);
    let state: "returned" | "settled" | "dummy" = op?.kind === "settle-expired" ? "settled" : "returned";
    let dummyUntil: number | null = null;
    if (record !== undefined && record.state === "active") {
      try {
        const result = await keys.call(session, (client) =>
          client.settle({ opId: bytes(settleOpId), id: row.id, binding: bytes(row.binding), tag: bytes(row.tag) }),
        );
        if (result.outcome === "dummy") {
          state = "dummy";
          dummyUntil = result.dummyUntil ?? null;
        }
      } catch (error) {
        if (!isKeyRefusal(error, Status.UNKNOWN_BORROW)) throw error;
      }
    } else if (record?.state === "dummy") {
      state = "dummy";
      dummyUntil = record.dummyUntil ?? null;
    } else {
      // The key has no record: the settle went through before the crash, unless OP_STATUS says otherwise.
      const status = await keys.call(session, (client) => client.opStatus(bytes(settleOpId)));
      if (status.known && status.settleOutcome === "dummy") state = "dummy";
      else if (!status.known) state = "settled";
    }
    const updated = await ledger.commit((tx) => {
      const next = tx.updateBorrowState(row.serial, row.id, { state, dummyUntil });
      if (op !== undefined) tx.finishOp(op.opId, "done");
      tx.audit({
        kind: "recovery",
        serial: row.serial,
        borrowId: row.id,
        message: `interrupted ${op?.kind ?? "return"} of borrow ${row.id} completed: ${state}`,
      });
      return next;
    });
    this.track(updated);
  }

  private async completeRebind(op: OpRow, onKey: Map<number, BorrowRecord>): Promise<void> {
    const { ledger } = this.inputs;
    const id = op.borrowId ?? -1;
    const record = onKey.get(id);
    const newBinding = String(op.details.newBinding ?? "");
    const applied = record !== undefined && hex(record.binding) === newBinding;
    const updated = await ledger.commit((tx) => {
      const row = applied ? tx.updateBorrowState(op.serial, id, { binding: newBinding }) : undefined;
      tx.finishOp(op.opId, applied ? "done" : "failed", applied ? undefined : "INTERRUPTED");
      return row;
    });
    if (updated !== undefined) this.track(updated);
  }

  /** An unacknowledged borrow (crash between key and ledger): SETTLE it with the tag derived from its opId. */
  private async rollBack(session: KeySession, record: BorrowRecord): Promise<void> {
    const { ledger, keys } = this.inputs;
    const opId = hex(record.opId);
    const tag = ledger.deriveTag(opId);
    const rollbackOpId = randomBytes(16);
    const result = await keys.call(session, (client) =>
      client.settle({ opId: rollbackOpId, id: record.id, binding: record.binding, tag }),
    );
    await ledger.commit((tx) => {
      tx.beginOp({
        opId: rollbackOpId.toString("hex"),
        kind: "rollback",
        serial: session.serial,
        borrowId: record.id,
        details: { borrowOpId: opId, outcome: result.outcome },
      });
      tx.finishOp(rollbackOpId.toString("hex"), result.outcome === "dummy" ? "failed" : "rolled-back");
      tx.audit({
        kind: "rollback",
        serial: session.serial,
        borrowId: record.id,
        message: `borrow ${record.id} on key ${session.serial} was never acknowledged (interrupted before the ledger); rolled back`,
        details: { opId, outcome: result.outcome },
      });
    });
  }

  /**
   * Takes a key record into a rebuilt or new ledger: the tag from the registry when it has one,
   * else derived from the opId when the secret is the original one, else the unknown-tag
   * sentinel (returns false then), which makes every later SETTLE or REBIND of it refuse with
   * TAG_UNKNOWN instead of making a dummy.
   */
  private async adopt(serial: string, record: BorrowRecord, entry: ParsedEntry | undefined): Promise<boolean> {
    const { ledger } = this.inputs;
    const opId = hex(record.opId);
    const tag = entry?.borrow.tag ?? (this.secretIsOriginal() ? ledger.deriveTag(opId).toString("hex") : UNKNOWN_TAG);
    const row = await ledger.commit((tx) =>
      tx.upsertBorrow({
        serial,
        id: record.id,
        opId,
        product: record.product,
        client: record.client,
        issuedAt: record.issuedAt,
        expiresAt: record.expiresAt,
        binding: hex(record.binding),
        tag,
        state: record.state,
        dummyUntil: record.dummyUntil ?? null,
        settleOpId: null,
        createdAt: Date.now(),
        updatedAt: Date.now(),
      }),
    );
    this.track(row);
    return tag !== UNKNOWN_TAG;
  }
}

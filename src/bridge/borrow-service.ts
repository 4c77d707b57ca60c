import { randomBytes } from "node:crypto";
import { isCodedError } from "../errors.js";
import { isKeyRefusal } from "../key/index.js";
import type { BorrowRow, Ledger } from "../ledger/index.js";
import { layerLogger } from "../log.js";
import type { BorrowRecord } from "../protocol/index.js";
import {
  firstUnsafeCharacter,
  MAX_BORROW_DAYS,
  MAX_CLIENT_BYTES,
  Status,
  unsafeTextReason,
} from "../protocol/index.js";
import { TransportAborted, TransportTimeout } from "../transport/index.js";
import type { BorrowRequestInput, BorrowView, ReturnResultView } from "./api.js";
import type { BorrowIndex } from "./borrow-index.js";
import type { BorrowLocks } from "./borrow-locks.js";
import { type CrashPoint, crashPoint } from "./crash-points.js";
import {
  AlreadyReturnedError,
  BindingMismatchError,
  IdempotencyKeyReusedError,
  InvalidRequestError,
  NoBorrowableError,
  NoKeyError,
  TagUnknownError,
  UnknownBorrowError,
  UnknownProductError,
} from "./errors.js";
import type { EventBus } from "./event-bus.js";
import {
  type BorrowFingerprint,
  differingFields,
  idempotencyDetails,
  idempotencyOpId,
  recordedBorrowOpId,
  validateIdempotencyKey,
} from "./idempotency.js";
import type { InFlight } from "./in-flight.js";
import type { DummyRecorder } from "./key-dummies.js";
import type { KeyManager } from "./key-manager.js";
import type { KeyOrder, Release } from "./key-order.js";
import type { KeySession } from "./key-session.js";
import type { MaintenancePlanner } from "./maintenance.js";
import type { Mirror } from "./mirror.js";
import { isTagUnknown, selfDummyAt } from "./tag-unknown.js";
import { borrowViewOf, borrowViewOfRow, type ProductNames } from "./views.js";

const log = layerLogger("bridge");

const U32_MAX = 0xffff_ffff;

export type SettleKind = "return" | "settle-expired";

const SETTLE_POINTS: Record<SettleKind, [CrashPoint, CrashPoint, CrashPoint]> = {
  return: ["return.after-journal", "return.after-key", "return.after-ledger"],
  "settle-expired": ["settle.after-journal", "settle.after-key", "settle.after-ledger"],
};

interface ValidRequest {
  product: number;
  client: string;
  days: number | undefined;
  serial: string | undefined;
}

/** Checks the request's shape before anything is touched. */
export function validateBorrowRequest(request: BorrowRequestInput): ValidRequest {
  const { product, client, days, serial } = request as Partial<BorrowRequestInput>;
  if (typeof product !== "number" || !Number.isInteger(product) || product < 0 || product > U32_MAX) {
    throw new InvalidRequestError("product", "product must be an integer between 0 and 4294967295");
  }
  if (typeof client !== "string" || client.length === 0) {
    throw new InvalidRequestError("client", "client must be a non-empty string");
  }
  const unsafe = firstUnsafeCharacter(client);
  if (unsafe !== undefined) throw new InvalidRequestError("client", `client ${unsafeTextReason(unsafe)}`);
  const clientBytes = Buffer.byteLength(client, "utf8");
  if (clientBytes > MAX_CLIENT_BYTES) {
    throw new InvalidRequestError(
      "client",
      `client is ${clientBytes} bytes in UTF-8; at most ${MAX_CLIENT_BYTES} bytes are allowed`,
    );
  }
  if (
    days !== undefined &&
    (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > MAX_BORROW_DAYS)
  ) {
    throw new InvalidRequestError("days", `days must be an integer between 1 and ${MAX_BORROW_DAYS}`);
  }
  if (serial !== undefined && (typeof serial !== "string" || serial.length === 0)) {
    throw new InvalidRequestError("serial", "serial must be a non-empty string");
  }
  return { product, client, days, serial };
}

/** What the borrow service reads, writes and waits for. */
export interface BorrowServiceInputs {
  readonly ledger: Pick<
    Ledger,
    "assertWritable" | "commit" | "deriveTag" | "getBorrow" | "getBorrowByOpId" | "getOp" | "listKeys" | "serverSecret"
  >;
  readonly index: Pick<BorrowIndex, "byId" | "get" | "put">;
  readonly keys: Pick<KeyManager, "call" | "refreshLicensesInBackground" | "servingSessions" | "session">;
  readonly mirror: Pick<Mirror, "markDirty">;
  readonly events: Pick<EventBus, "emit">;
  readonly operations: Pick<InFlight, "run">;
  readonly locks: BorrowLocks;
  readonly keyOrder: Pick<KeyOrder, "shared" | "withShared">;
  readonly maintenance: Pick<MaintenancePlanner, "allowedDays">;
  readonly dummies: Pick<DummyRecorder, "record">;
  /** The current host binding, lower-case hex. */
  binding(): string;
  readonly productName: ProductNames;
}

/**
 * Borrow, return and expiry settle. Each writes the key and the ledger in the order that leaves
 * a crash recoverable from what survives (see docs/bridge.md), and marks the registry mirror
 * dirty only after the ledger commit.
 */
export class BorrowService {
  /** Borrows under an idempotency key still running, by journal opId: a concurrent retry joins its result. */
  private readonly idempotent = new Map<string, { fingerprint: BorrowFingerprint; result: Promise<BorrowView> }>();

  constructor(private readonly inputs: BorrowServiceInputs) {}

  /**
   * With an idempotency key, the borrow is recorded under it in the same commit as its row (a
   * journal entry whose opId is derived from the key): a retry with the same key and request
   * answers that borrow, in whatever state it is now, instead of taking a second seat; a retry
   * while the first is running waits for it. A borrow that was never acknowledged (rolled back,
   * or lost with a crash before its row was written) is not a borrow to answer: the key borrows
   * afresh. The key's own opId is fresh per attempt, so a rolled-back attempt never blocks a retry.
   */
  async borrow(request: BorrowRequestInput, signal?: AbortSignal, idempotencyKey?: string): Promise<BorrowView> {
    const valid = validateBorrowRequest(request);
    if (idempotencyKey === undefined) return this.inputs.operations.run(() => this.borrowNow(valid, signal));
    const key = validateIdempotencyKey(idempotencyKey);
    const fingerprint: BorrowFingerprint = {
      product: valid.product,
      client: valid.client,
      days: valid.days ?? null,
      serial: valid.serial ?? null,
    };
    const journalOpId = idempotencyOpId(this.inputs.ledger.serverSecret(), key);
    const running = this.idempotent.get(journalOpId);
    if (running !== undefined) {
      const differing = differingFields(running.fingerprint, fingerprint);
      if (differing.length > 0) throw new IdempotencyKeyReusedError(differing);
      return running.result;
    }
    const earlier = this.earlierBorrow(journalOpId, fingerprint);
    if (earlier !== undefined) return earlier;
    const record = (borrowOpId: string) => idempotencyDetails(key, borrowOpId, fingerprint);
    const result = this.inputs.operations.run(() => this.borrowNow(valid, signal, { journalOpId, record }));
    const entry = { fingerprint, result };
    this.idempotent.set(journalOpId, entry);
    try {
      return await result;
    } finally {
      if (this.idempotent.get(journalOpId) === entry) this.idempotent.delete(journalOpId);
    }
  }

  /** The borrow recorded under this idempotency journal opId, as it is now; undefined when there is none to answer. */
  private earlierBorrow(journalOpId: string, fingerprint: BorrowFingerprint): BorrowView | undefined {
    const { ledger, index, keys } = this.inputs;
    const op = ledger.getOp(journalOpId);
    if (op === undefined) return undefined;
    const borrowOpId = recordedBorrowOpId(op, fingerprint);
    if (borrowOpId === undefined) return undefined;
    const row = ledger.getBorrowByOpId(borrowOpId);
    if (row === undefined || row.state === "rolled-back") return undefined;
    const keyNow = keys.session(row.serial)?.keyNow() ?? Date.now();
    return borrowViewOfRow(index.get(row.serial, row.id) ?? row, keyNow, this.inputs.productName);
  }

  async returnBorrow(id: number, signal?: AbortSignal, serial?: string): Promise<ReturnResultView> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidRequestError("id", "id must be a positive integer");
    return this.inputs.operations.run(async () => {
      const row = this.findForSettle(id, serial);
      this.refuseUnknownTag(row);
      const session = this.servingSession(row.serial);
      if (row.binding !== this.inputs.binding()) throw new BindingMismatchError(row.serial, row.id);
      if (!this.inputs.locks.tryLock(row.serial, row.id)) throw new AlreadyReturnedError(id, "returning");
      try {
        const done = await this.settle(session, row, "return", signal);
        // How the borrow ended, as the key answered: a dummy is never reported as returned.
        return {
          borrow: borrowViewOfRow(done, session.keyNow(), this.inputs.productName),
          outcome: done.state === "dummy" ? "dummy" : "returned",
        };
      } finally {
        this.inputs.locks.unlock(row.serial, row.id);
      }
    });
  }

  /** The outstanding borrow with this id, or the typed error saying why there is none. */
  findOutstanding(id: number, serial?: string): BorrowRow {
    const found = this.inputs.index.byId(id).filter((row) => serial === undefined || row.serial === serial);
    if (found.length === 1) return found[0] as BorrowRow;
    if (found.length > 1) {
      const active = found.filter((row) => row.state !== "dummy");
      if (active.length === 1) return active[0] as BorrowRow;
      throw new InvalidRequestError("id", `borrow id ${id} exists on more than one key; name the key (serial)`, {
        details: { serials: found.map((row) => row.serial) },
      });
    }
    for (const key of this.inputs.ledger.listKeys()) {
      if (serial !== undefined && key.serial !== serial) continue;
      const row = this.inputs.ledger.getBorrow(key.serial, id);
      if (row !== undefined) throw new AlreadyReturnedError(id, row.state);
    }
    throw new UnknownBorrowError(id);
  }

  /**
   * SETTLE with the ledger's binding and tag: journal (state returning, settle opId) → key →
   * ledger (returned/settled). A crash after the journal is completed by recovery with the SAME
   * settle opId, which the key answers idempotently (K2).
   *
   * Runs in the key's order of seat operations (KeyOrder): a license update waiting ahead of it
   * goes first, and the row is read again once its turn comes. A row a forced update turned into a
   * dummy meanwhile is answered as that dummy, without asking the key.
   */
  async settle(session: KeySession, row: BorrowRow, kind: SettleKind, signal?: AbortSignal): Promise<BorrowRow> {
    return this.inputs.keyOrder.withShared(row.serial, async () => {
      const current =
        this.inputs.index.get(row.serial, row.id) ?? this.inputs.ledger.getBorrow(row.serial, row.id) ?? row;
      if (current.state === "dummy") return current;
      if (current.state !== "active") throw new AlreadyReturnedError(row.id, current.state);
      return this.settleNow(session, current, kind, signal);
    });
  }

  private async settleNow(
    session: KeySession,
    row: BorrowRow,
    kind: SettleKind,
    signal?: AbortSignal,
  ): Promise<BorrowRow> {
    const { ledger, index, mirror, keys, events } = this.inputs;
    this.refuseUnknownTag(row);
    const [afterJournal, afterKey, afterLedger] = SETTLE_POINTS[kind];
    const settleOpId = randomBytes(16).toString("hex");
    const returning = await ledger.commit((tx) => {
      const updated = tx.updateBorrowState(row.serial, row.id, { state: "returning", settleOpId });
      tx.beginOp({ opId: settleOpId, kind, serial: row.serial, borrowId: row.id, step: "journaled" });
      return updated;
    });
    index.put(returning);
    crashPoint(afterJournal);
    let outcome: {
      state: "returned" | "settled" | "dummy";
      dummyUntil: number | null;
      gone: boolean;
      /** The key held the borrow as a dummy before this settle (NOT_ACTIVE). */
      wasDummy?: boolean;
    };
    const sequence = session.nextSequence();
    try {
      const answer = await keys.call(session, (client) =>
        client.settleWithPendingProof(
          {
            opId: Buffer.from(settleOpId, "hex"),
            id: row.id,
            binding: Buffer.from(row.binding, "hex"),
            tag: Buffer.from(row.tag, "hex"),
          },
          signal === undefined ? {} : { signal },
        ),
      );
      // A freed seat is counted as soon as the answer is read, a taken one only once proven (see
      // borrowNow): the key answers in order, so the counts can lag a borrow but never show one
      // before the settle that made room for it, whatever order the proofs finish in. A failed
      // proof lists the licenses again (below).
      session.noteSettled(row.product, answer.value.outcome, sequence);
      await answer.verified;
      const result = answer.value;
      outcome =
        result.outcome === "dummy"
          ? { state: "dummy", dummyUntil: result.dummyUntil ?? null, gone: false }
          : { state: kind === "return" ? "returned" : "settled", dummyUntil: null, gone: false };
    } catch (error) {
      // The key did not do what the cached counts expected (or may have done it unheard): list again.
      this.refreshLicenses(session, "settle surprise");
      if (isKeyRefusal(error, Status.NOT_ACTIVE)) {
        // The key turned the borrow into a dummy by itself (K4: its settle window passed unseen, the
        // daemon was down or the clock jumped). The ledger says so now, with the dummy's clear date.
        outcome = { state: "dummy", dummyUntil: await this.dummyUntilOnKey(session, row), gone: false, wasDummy: true };
      } else if (isKeyRefusal(error, Status.UNKNOWN_BORROW)) {
        // The key no longer holds the record (settled before, or cleared): the ledger follows the key.
        outcome = { state: "settled", dummyUntil: null, gone: true };
      } else {
        throw error;
      }
    }
    crashPoint(afterKey);
    const done = await ledger.commit((tx) => {
      const updated = tx.updateBorrowState(row.serial, row.id, {
        state: outcome.state,
        dummyUntil: outcome.dummyUntil,
      });
      tx.finishOp(settleOpId, "done");
      if (outcome.state === "dummy") {
        tx.audit({
          kind: "dummy",
          serial: row.serial,
          borrowId: row.id,
          message: outcome.wasDummy
            ? `key ${row.serial} already held borrow ${row.id} as a borrow dummy (its settle window passed unsettled); found on ${kind}`
            : `the key turned borrow ${row.id} into a borrow dummy on ${kind}`,
          details: { dummyUntil: outcome.dummyUntil },
        });
      } else if (kind === "settle-expired" || outcome.gone) {
        tx.audit({
          kind: kind === "settle-expired" ? "settle-expired" : "settled",
          serial: row.serial,
          borrowId: row.id,
          message: outcome.gone
            ? `borrow ${row.id} was no longer on key ${row.serial}; marked settled`
            : `expired borrow ${row.id} settled on key ${row.serial}`,
        });
      }
      return updated;
    });
    crashPoint(afterLedger);
    index.put(done);
    mirror.markDirty(row.serial, row.id);
    const view = borrowViewOfRow(done, session.keyNow(), this.inputs.productName);
    if (done.state === "dummy") {
      log.error(outcome.wasDummy ? "the key already held the borrow as a dummy" : "a settle produced a borrow dummy", {
        serial: row.serial,
        id: row.id,
        dummyUntil: view.dummyUntil,
      });
      const until = view.dummyUntil === undefined ? "" : ` until ${view.dummyUntil}`;
      events.emit("borrow.dummy", `borrow ${row.id} on key ${row.serial} is a borrow dummy${until}`, {
        serial: row.serial,
        borrow: view,
      });
    } else if (kind === "return" && !outcome.gone) {
      events.emit("borrow.returned", `borrow ${row.id} returned`, { serial: row.serial, borrow: view });
    } else {
      events.emit("borrow.settled", `borrow ${row.id} settled`, { serial: row.serial, borrow: view });
    }
    return done;
  }

  /**
   * When the key's dummy of `row` clears, from its listing; every other dummy the listing shows is
   * written to the ledger too. Null when the listing fails (the dummy is certain, its date is not;
   * the next listing sets it).
   */
  private async dummyUntilOnKey(session: KeySession, row: BorrowRow): Promise<number | null> {
    try {
      const records = await this.inputs.keys.call(session, (client) => client.listAllBorrows());
      await this.inputs.dummies.record(
        session,
        records.filter((record) => record.id !== row.id),
        { cause: "the key's listing after a NOT_ACTIVE refusal" },
      );
      return records.find((record) => record.id === row.id)?.dummyUntil ?? null;
    } catch (error) {
      log.warn("could not list the key's borrows after a NOT_ACTIVE refusal; the dummy's clear date is unknown", {
        serial: row.serial,
        id: row.id,
        code: isCodedError(error) ? error.code : undefined,
        error: String(error),
      });
      return null;
    }
  }

  servingSession(serial: string): KeySession {
    const session = this.inputs.keys.session(serial);
    if (session === undefined || !session.present || !session.serving) {
      throw new NoKeyError(`key ${serial} is not attached; plug it in and try again`, { details: { serial } });
    }
    return session;
  }

  /** Re-lists the key's licenses in the background (coalesced); a failure is logged, never thrown. */
  refreshLicenses(session: KeySession, reason: string): void {
    this.inputs.keys.refreshLicensesInBackground(session, reason);
  }

  /** TAG_UNKNOWN for a borrow whose tag was lost: any SETTLE of it would make a dummy (K3). */
  refuseUnknownTag(row: BorrowRow): void {
    if (!isTagUnknown(row)) return;
    const session = this.inputs.keys.session(row.serial);
    throw new TagUnknownError(row.serial, row.id, selfDummyAt(row, session?.settleWindowMs));
  }

  private async rollBackIfRecorded(session: KeySession, opId: Buffer, binding: string, tag: Buffer): Promise<void> {
    const { keys, ledger } = this.inputs;
    try {
      const status = await keys.call(session, (client) => client.opStatus(opId));
      if (!status.known || status.kind !== "borrow" || status.borrowId === undefined) return;
      const borrowId = status.borrowId;
      const rollbackOpId = randomBytes(16);
      const result = await keys.call(session, (client) =>
        client.settle({ opId: rollbackOpId, id: borrowId, binding: Buffer.from(binding, "hex"), tag }),
      );
      await ledger
        .commit((tx) =>
          tx.audit({
            kind: "rollback",
            serial: session.serial,
            borrowId,
            message: `borrow ${borrowId} on key ${session.serial} was never acknowledged to its caller; rolled back`,
            details: { opId: opId.toString("hex"), outcome: result.outcome },
          }),
        )
        .catch((error: unknown) => {
          // The seat is back on the key; only the trail of it is missing (a full disk, most likely).
          log.warn("a borrow was rolled back on the key, but its audit entry could not be written", {
            serial: session.serial,
            id: borrowId,
            outcome: result.outcome,
            code: isCodedError(error) ? error.code : undefined,
          });
        });
    } catch (error) {
      log.warn("could not roll back a borrow whose answer was lost; recovery does at the next attach", {
        serial: session.serial,
        code: isCodedError(error) ? error.code : undefined,
        error: String(error),
      });
    } finally {
      // Whatever happened on the key, the cached counts cannot know it.
      this.refreshLicenses(session, "lost borrow answer");
    }
  }

  private findForSettle(id: number, serial?: string): BorrowRow {
    const row = this.findOutstanding(id, serial);
    if (row.state !== "active") throw new AlreadyReturnedError(id, row.state);
    return row;
  }

  private pickSession(valid: ValidRequest): KeySession {
    if (valid.serial !== undefined) {
      const session = this.servingSession(valid.serial);
      if (session.license(valid.product) === undefined) {
        throw new UnknownProductError(valid.product, valid.serial);
      }
      return session;
    }
    const serving = this.inputs.keys.servingSessions();
    if (serving.length === 0) throw new NoKeyError();
    if (serving.length === 1) {
      const only = serving[0] as KeySession;
      if (only.license(valid.product) === undefined) throw new UnknownProductError(valid.product);
      return only;
    }
    const holders = serving.filter((session) => session.license(valid.product) !== undefined);
    if (holders.length === 0) throw new UnknownProductError(valid.product);
    // Prefer a key with a free borrowable seat and no dummy of the product (K1).
    return holders.find((session) => !session.looksBlocked(valid.product)) ?? (holders[0] as KeySession);
  }

  /**
   * The borrow holds a place in its key's order of seat operations (KeyOrder) from before it is
   * sent until its row is in the ledger and the index — and, when its answer was lost, until the
   * rollback is done — so a license update never runs while the key holds a borrow the ledger
   * does not show yet.
   */
  private async borrowNow(
    valid: ValidRequest,
    signal?: AbortSignal,
    idempotency?: IdempotentBorrow,
  ): Promise<BorrowView> {
    const picked = this.pickSession(valid);
    const release = await this.inputs.keyOrder.shared(picked.serial);
    const lease = { release, handedOver: false };
    try {
      // A license update may have gone first: the key and its licenses are looked at again.
      const session = this.servingSession(picked.serial);
      return await this.borrowOn(session, valid, lease, signal, idempotency);
    } finally {
      if (!lease.handedOver) release();
    }
  }

  private async borrowOn(
    session: KeySession,
    valid: ValidRequest,
    lease: { release: Release; handedOver: boolean },
    signal?: AbortSignal,
    idempotency?: IdempotentBorrow,
  ): Promise<BorrowView> {
    const { ledger, index, mirror, keys, events, locks } = this.inputs;
    // A seat is taken on the key before it is recorded: with the ledger known to refuse the record
    // (a full disk, its file lost), none is taken.
    ledger.assertWritable();
    const license = session.license(valid.product);
    if (license === undefined) throw new UnknownProductError(valid.product, session.serial);
    if (valid.days !== undefined && valid.days > license.borrowDays) {
      throw new InvalidRequestError(
        "days",
        `days is ${valid.days}, but product ${valid.product} may be borrowed for at most ${license.borrowDays} days`,
      );
    }
    // A planned maintenance shortens the default period, or refuses, so that no borrow outlasts its start.
    const days = this.inputs.maintenance.allowedDays(valid.days, license.borrowDays, session.keyNow());
    const opId = randomBytes(16);
    const opIdHex = opId.toString("hex");
    const tag = ledger.deriveTag(opId);
    const binding = this.inputs.binding();
    const blockedBefore = session.looksBlocked(valid.product);
    locks.lockUnrecorded(opIdHex);
    try {
      crashPoint("borrow.before-key");
      let record: BorrowRecord;
      const sequence = session.nextSequence();
      try {
        // The answer is returned only once its signature is proven (K9): nothing below ever sees an
        // answer the key did not sign.
        record = await keys.call(session, (client) =>
          client.borrow(
            { opId, product: valid.product, days, binding: Buffer.from(binding, "hex"), tag, client: valid.client },
            signal === undefined ? {} : { signal },
          ),
        );
      } catch (error) {
        if (error instanceof TransportTimeout || error instanceof TransportAborted || isBadSignature(error)) {
          // No answer to trust (lost, or not the key's), yet the key may have done the borrow: undo it
          // now, not at the next attach, keeping the borrow's place in the key's order until that is done.
          lease.handedOver = true;
          void this.rollBackIfRecorded(session, opId, binding, tag).finally(lease.release);
        } else if (isKeyRefusal(error, Status.NO_BORROWABLE) && !session.looksBlocked(valid.product)) {
          // The counts (with every answer before this one applied) say a seat is free: the key made a
          // dummy by itself (K4) or the counts drifted.
          this.refreshLicenses(session, "unexpected NO_BORROWABLE");
        }
        throw mapBorrowError(error, session.serial, valid.product);
      }
      crashPoint("borrow.after-key");
      // The borrow row alone is the durable record of the completed borrow (recovery matches key
      // records to rows by opId), so no journal entry is written: one row, one commit.
      const written = ledger.commit((tx) => {
        const inserted = tx.insertBorrow({
          serial: session.serial,
          id: record.id,
          opId: opIdHex,
          product: record.product,
          client: record.client,
          issuedAt: record.issuedAt,
          expiresAt: record.expiresAt,
          binding: Buffer.from(record.binding).toString("hex"),
          tag: tag.toString("hex"),
          state: "active",
        });
        if (idempotency !== undefined) {
          // Overwrites an earlier attempt under the same key that was rolled back.
          tx.restoreOp({
            opId: idempotency.journalOpId,
            kind: "borrow",
            serial: session.serial,
            borrowId: record.id,
            step: "recorded",
            outcome: "done",
            errorCode: null,
            startedAt: inserted.createdAt,
            finishedAt: inserted.createdAt,
            details: idempotency.record(opIdHex),
          });
        }
        return inserted;
      });
      // Counted once proven, while a settle's freed seat is counted as soon as it is read: a borrow
      // into a seat that a settle just freed then never shows more borrowed than borrowable.
      session.noteBorrowed(record.product, sequence);
      // The counts said the key would refuse (a dummy, no seat), yet it borrowed: a dummy cleared (K5).
      if (blockedBefore) this.refreshLicenses(session, "borrow past a cached block");
      let row: BorrowRow;
      try {
        row = await written;
      } catch (error) {
        // The key gave a seat the ledger could not record (a full disk): nobody may hold a seat the
        // ledger does not show, so it is given back now, and the caller hears why (LEDGER_DISK_FULL).
        lease.handedOver = true;
        void this.rollBackIfRecorded(session, opId, binding, tag).finally(lease.release);
        throw error;
      }
      crashPoint("borrow.after-ledger");
      const entry = index.put(row);
      mirror.markDirty(row.serial, row.id);
      const view =
        entry === undefined
          ? borrowViewOfRow(row, session.keyNow(), this.inputs.productName)
          : borrowViewOf(entry, session.keyNow(), this.inputs.productName);
      events.emit("borrow.created", `product ${row.product} borrowed by ${row.client}`, {
        serial: row.serial,
        borrow: view,
      });
      return view;
    } finally {
      locks.unlockUnrecorded(opIdHex);
    }
  }
}

/** A borrow made under an idempotency key: where its journal entry goes and what it holds. */
interface IdempotentBorrow {
  readonly journalOpId: string;
  readonly record: (borrowOpId: string) => Record<string, unknown>;
}

function isBadSignature(error: unknown): boolean {
  return isCodedError(error) && error.code === "PROTOCOL_BAD_SIGNATURE";
}

function mapBorrowError(error: unknown, serial: string, product: number): unknown {
  if (isKeyRefusal(error, Status.NO_BORROWABLE)) return new NoBorrowableError(serial, product, { cause: error });
  if (isKeyRefusal(error, Status.UNKNOWN_PRODUCT)) return new UnknownProductError(product, serial);
  if (isKeyRefusal(error, Status.BAD_REQUEST)) {
    return new InvalidRequestError("request", `the key refused the borrow: ${error.reason}`, { cause: error });
  }
  return error;
}

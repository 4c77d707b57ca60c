import { randomBytes } from "node:crypto";
import { isCodedError } from "../../errors.js";
import { isKeyRefusal } from "../../key/index.js";
import type { BorrowRow, Ledger, OpRow } from "../../ledger/index.js";
import { layerLogger } from "../../log.js";
import { Status } from "../../protocol/index.js";
import { borrowKey } from "../../vocabulary/index.js";
import type { MigrationItemView, MigrationView } from "../api.js";
import type { BorrowIndex } from "../borrow-index.js";
import type { BorrowLocks } from "../borrow-locks.js";
import { crashPoint } from "../crash-points.js";
import { TagUnknownError } from "../errors.js";
import type { EventBus } from "../event-bus.js";
import type { InFlight } from "../in-flight.js";
import type { DummyRecorder } from "../key-dummies.js";
import type { KeyManager } from "../key-manager.js";
import type { KeyOrder } from "../key-order.js";
import type { KeySession } from "../key-session.js";
import type { Mirror } from "../mirror.js";
import { isTagUnknown } from "../tag-unknown.js";

const log = layerLogger("bridge");

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const bytesOf = (hex: string): Buffer => Buffer.from(hex, "hex");

/** What migration reads and writes. */
export interface MigrationInputs {
  readonly ledger: Pick<Ledger, "audit" | "commit" | "listPendingOps" | "touchKey">;
  readonly index: Pick<BorrowIndex, "put" | "rows">;
  readonly keys: Pick<KeyManager, "call" | "session">;
  readonly mirror: Pick<Mirror, "flush" | "markDirty">;
  readonly events: Pick<EventBus, "emit">;
  readonly operations: Pick<InFlight, "run">;
  readonly locks: Pick<BorrowLocks, "tryLock" | "unlock">;
  readonly keyOrder: Pick<KeyOrder, "withShared">;
  readonly dummies: Pick<DummyRecorder, "record">;
  /** The current host binding, lower-case hex: the one borrows are moved to. */
  binding(): string;
  /** Probes the host once, so the binding migrated to is the one of now. */
  refreshHost(): Promise<void>;
}

/**
 * `keybridge migrate`: moves every active borrow whose binding differs from this host's binding
 * to the current binding with REBIND (rule K7), proving each with the old binding and tag from
 * the ledger. Journaled like a return: op `rebind` (journal → key → ledger), so a crash is
 * completed by recovery or by the next run — a pending rebind is sent again with its own opId,
 * which the key answers idempotently (K2).
 */
export class MigrationService {
  constructor(private readonly inputs: MigrationInputs) {}

  async migrate(): Promise<MigrationView> {
    await this.inputs.refreshHost();
    return this.inputs.operations.run(() => this.migrateNow());
  }

  private async migrateNow(): Promise<MigrationView> {
    const { inputs } = this;
    const binding = inputs.binding();
    const pending = new Map<string, OpRow>();
    for (const op of inputs.ledger.listPendingOps()) {
      if (op.kind === "rebind" && op.borrowId !== null) pending.set(borrowKey(op.serial, op.borrowId), op);
    }
    const rows = inputs.index
      .rows()
      .filter((row) => row.state === "active" || row.state === "returning")
      .sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.id - b.id));
    const items: MigrationItemView[] = [];
    const touched = new Set<string>();
    for (const row of rows) {
      const item = await this.migrateOne(row, binding, pending.get(borrowKey(row.serial, row.id)));
      items.push(item);
      if (item.outcome === "rebound") touched.add(row.serial);
    }
    if (touched.size > 0) await inputs.mirror.flush();
    for (const serial of touched) {
      if (inputs.keys.session(serial)?.present)
        inputs.ledger.touchKey(serial, { lastSeen: Date.now(), lastBinding: binding });
    }
    const rebound = items.filter((item) => item.outcome === "rebound").length;
    const failed = items.filter((item) => item.outcome === "failed" || item.outcome === "refused").length;
    const view: MigrationView = { binding, items, rebound, failed };
    const message =
      `migration to host binding ${binding.slice(0, 12)}…: ${rebound} rebound, ` +
      `${items.filter((item) => item.outcome === "already-current").length} already current, ${failed} failed or refused, ` +
      `${items.filter((item) => item.outcome === "skipped").length} skipped`;
    inputs.ledger.audit({ kind: "migrate", message, details: { binding, items: items.map(auditItem) } });
    inputs.events.emit("migration.done", message, { details: { binding, rebound, failed, items: items.length } });
    return view;
  }

  private async migrateOne(row: BorrowRow, binding: string, pendingOp: OpRow | undefined): Promise<MigrationItemView> {
    const item = (outcome: MigrationItemView["outcome"], message: string): MigrationItemView => ({
      serial: row.serial,
      borrowId: row.id,
      client: row.client,
      product: row.product,
      outcome,
      message,
    });
    if (row.binding === binding && pendingOp === undefined) {
      return item("already-current", `borrow ${row.id} is already bound to this host identity`);
    }
    if (row.state === "returning") return item("skipped", `a return of borrow ${row.id} is in progress`);
    const session = this.inputs.keys.session(row.serial);
    if (isTagUnknown(row)) {
      // REBIND needs the tag (K7); a wrong one proves nothing, so it is not sent.
      const refusal = new TagUnknownError(row.serial, row.id, session && row.expiresAt + session.settleWindowMs);
      return item("refused", `${refusal.code}: ${refusal.message}`);
    }
    if (session === undefined || !session.present || !session.serving) {
      return item("skipped", `key ${row.serial} is not attached; plug it in and run keybridge migrate again`);
    }
    if (!this.inputs.locks.tryLock(row.serial, row.id)) {
      return item("skipped", `borrow ${row.id} is busy; run migrate again`);
    }
    let notActive = false;
    try {
      // In the key's order of seat operations: a license update never runs between journal and key.
      return await this.inputs.keyOrder.withShared(row.serial, async () => {
        let current = row;
        if (pendingOp !== undefined) {
          // An interrupted rebind: send it again with its own opId (K2 replays it), then go on from there.
          current = await this.rebind(session, row, String(pendingOp.details.newBinding ?? binding), pendingOp.opId);
          if (current.binding === binding) {
            return item("rebound", `borrow ${row.id} rebound (interrupted run completed)`);
          }
        }
        await this.rebind(session, current, binding);
        return item("rebound", `borrow ${row.id} rebound to this host identity`);
      });
    } catch (error) {
      if (isKeyRefusal(error, Status.REBIND_REFUSED, Status.NOT_ACTIVE, Status.UNKNOWN_BORROW)) {
        notActive = error.status === Status.NOT_ACTIVE;
        return item("refused", `the key refused to rebind borrow ${row.id}: ${error.reason || error.message}`);
      }
      log.warn("rebind failed", { serial: row.serial, id: row.id, error: String(error) });
      const code = isCodedError(error) ? `${error.code}: ` : "";
      return item(
        "failed",
        `rebind of borrow ${row.id} failed: ${code}${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      this.inputs.locks.unlock(row.serial, row.id);
      // NOT_ACTIVE: the key holds the borrow as a dummy; the ledger is told at once (with the clear date).
      if (notActive) await this.noteDummies(session);
    }
  }

  private async noteDummies(session: KeySession): Promise<void> {
    try {
      const records = await this.inputs.keys.call(session, (client) => client.listAllBorrows());
      await this.inputs.dummies.record(session, records, { cause: "the key's listing after a NOT_ACTIVE refusal" });
    } catch (error) {
      log.warn("could not record the key's dummies after a NOT_ACTIVE refusal; the next listing does", {
        serial: session.serial,
        code: isCodedError(error) ? error.code : undefined,
        error: String(error),
      });
    }
  }

  /** REBIND one borrow: journal → key → ledger → mirror. Returns the updated row. */
  private async rebind(
    session: KeySession,
    row: BorrowRow,
    newBinding: string,
    replayOpId?: string,
  ): Promise<BorrowRow> {
    const { ledger, index, mirror, keys } = this.inputs;
    const opId = replayOpId ?? randomBytes(16).toString("hex");
    if (replayOpId === undefined) {
      await ledger.commit((tx) =>
        tx.beginOp({
          opId,
          kind: "rebind",
          serial: row.serial,
          borrowId: row.id,
          step: "journaled",
          details: { oldBinding: row.binding, newBinding },
        }),
      );
      crashPoint("rebind.after-journal");
    }
    let record: Awaited<ReturnType<NonNullable<KeySession["client"]>["rebind"]>>;
    try {
      record = await keys.call(session, (client) =>
        client.rebind({
          opId: bytesOf(opId),
          id: row.id,
          oldBinding: bytesOf(row.binding),
          tag: bytesOf(row.tag),
          newBinding: bytesOf(newBinding),
        }),
      );
    } catch (error) {
      // A refusal is final for this opId; a transport failure leaves the op pending for a rerun.
      if (isKeyRefusal(error, Status.REBIND_REFUSED, Status.NOT_ACTIVE, Status.UNKNOWN_BORROW)) {
        await ledger.commit((tx) => tx.finishOp(opId, "failed", error.code));
        ledger.audit({
          kind: "rebind",
          serial: row.serial,
          borrowId: row.id,
          message: `the key refused to rebind borrow ${row.id}: ${error.reason || error.message}`,
          details: { outcome: "refused", code: error.code },
        });
      }
      throw error;
    }
    crashPoint("rebind.after-key");
    const onKey = hexOf(record.binding);
    const updated = await ledger.commit((tx) => {
      const next = tx.updateBorrowState(row.serial, row.id, { binding: onKey });
      tx.finishOp(opId, "done");
      tx.audit({
        kind: "rebind",
        serial: row.serial,
        borrowId: row.id,
        message: `borrow ${row.id} (client "${row.client}", product ${row.product}) rebound to host binding ${onKey.slice(0, 12)}…`,
        details: { oldBinding: row.binding, newBinding: onKey, opId },
      });
      return next;
    });
    crashPoint("rebind.after-ledger");
    index.put(updated);
    mirror.markDirty(row.serial, row.id);
    return updated;
  }
}

function auditItem(item: MigrationItemView): Record<string, unknown> {
  return { serial: item.serial, borrowId: item.borrowId, outcome: item.outcome };
}

import type { BorrowRow, Ledger } from "../ledger/index.js";
import { layerLogger } from "../log.js";
import type { BorrowRecord } from "../protocol/index.js";
import type { BorrowIndex } from "./borrow-index.js";
import type { BorrowLocks } from "./borrow-locks.js";
import type { EventBus } from "./event-bus.js";
import type { KeySession } from "./key-session.js";
import type { Mirror } from "./mirror.js";
import { borrowViewOfRow, type ProductNames } from "./views.js";

const log = layerLogger("bridge");

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

export interface NoteDummiesOptions {
  /** Said in the audit entry, the event and the log: what showed the dummy (a listing, a refusal, an update). */
  readonly cause: string;
  /**
   * Also rows with a return, settle or rebind running. Only for a caller that holds the key alone
   * (a license update): the busy operations have not reached the key yet and will find the row a dummy.
   */
  readonly includeBusy?: boolean;
  /** The caller made the dummies on purpose (a forced license update) and says so itself: no error is logged. */
  readonly expected?: boolean;
  /**
   * Runs in the same ledger transaction, with the rows changed (none, too): the caller's own audit
   * entry stands for the rows' entries, and its journal finishes with them.
   */
  readonly inTransaction?: (tx: Ledger, changed: BorrowRow[]) => void;
}

/** What the dummy recorder reads and writes. */
export interface DummyRecorderInputs {
  readonly ledger: Pick<Ledger, "commit" | "getBorrow">;
  readonly index: Pick<BorrowIndex, "get" | "put">;
  readonly mirror: Pick<Mirror, "markDirty">;
  readonly events: Pick<EventBus, "emit">;
  readonly locks: Pick<BorrowLocks, "isLocked" | "isUnrecorded">;
  readonly productName: ProductNames;
}

/**
 * The key is the truth about which borrows are dummies. Whenever one of its answers shows a dummy
 * (a LIST, a NOT_ACTIVE refusal, a license update), the ledger row is changed at once — state,
 * dummyUntil, an audit entry — the index and the registry mirror follow, and `borrow.dummy` is
 * published (webhooks included). Without this, a dummy the key made by itself (K4: an expired
 * borrow nobody settled within the settle window) stayed `expired` in status, metrics and
 * events until the next restart while the key refused the product.
 *
 * Only `dummy` records are looked at. A record with no ledger row is taken into the ledger as a
 * dummy (its seat is blocked whoever made it); a row whose opId differs from the record's is a
 * different borrow and is left alone, with a warning. Returns the rows changed.
 */
export class DummyRecorder {
  constructor(private readonly inputs: DummyRecorderInputs) {}

  /** Writes every dummy among `records` (the key's) that the ledger does not show yet; returns the rows changed. */
  async record(
    session: KeySession,
    records: readonly BorrowRecord[],
    options: NoteDummiesOptions,
  ): Promise<BorrowRow[]> {
    const { ledger, index, mirror, events, locks, productName } = this.inputs;
    const serial = session.serial;
    const changes: { record: BorrowRecord; row: BorrowRow | undefined }[] = [];
    for (const record of records) {
      if (record.state !== "dummy") continue;
      const opId = hex(record.opId);
      const row = index.get(serial, record.id) ?? ledger.getBorrow(serial, record.id);
      if (row !== undefined && row.opId !== opId) {
        log.warn("the key holds a dummy whose id the ledger uses for another borrow; left alone", {
          serial,
          id: record.id,
        });
        continue;
      }
      const dummyUntil = record.dummyUntil ?? null;
      if (row?.state === "dummy" && row.dummyUntil === dummyUntil) continue;
      if (row === undefined && locks.isUnrecorded(opId)) continue;
      if (options.includeBusy !== true && locks.isLocked(serial, record.id)) continue;
      changes.push({ record, row });
    }
    if (changes.length === 0 && options.inTransaction === undefined) return [];
    const changed = await ledger.commit((tx) => {
      const rows = changes.map(({ record, row }) => {
        const dummyUntil = record.dummyUntil ?? null;
        const next =
          row === undefined
            ? tx.upsertBorrow({
                serial,
                id: record.id,
                opId: hex(record.opId),
                product: record.product,
                client: record.client,
                issuedAt: record.issuedAt,
                expiresAt: record.expiresAt,
                binding: hex(record.binding),
                // A dummy is never settled (K3 refuses it), so the tag is never sent; the derived one is what it would be.
                tag: tx.deriveTag(hex(record.opId)).toString("hex"),
                state: "dummy",
                dummyUntil,
                settleOpId: null,
                createdAt: Date.now(),
                updatedAt: Date.now(),
              })
            : tx.updateBorrowState(serial, record.id, { state: "dummy", dummyUntil });
        // A settle left half done (a crash) ends here: the key's answer to it can only be the dummy.
        if (row?.state === "returning" && row.settleOpId !== null && tx.getOp(row.settleOpId)?.outcome === "pending") {
          tx.finishOp(row.settleOpId, "done");
        }
        if (options.inTransaction !== undefined) return next;
        tx.audit({
          kind: "dummy",
          serial,
          borrowId: record.id,
          message:
            `key ${serial} holds borrow ${record.id} (product ${record.product}, client "${record.client}") as a ` +
            `borrow dummy until ${dummyUntil === null ? "an unknown time" : new Date(dummyUntil).toISOString()} ` +
            `(seen in ${options.cause})`,
          details: { dummyUntil, cause: options.cause, previousState: row?.state ?? null },
        });
        return next;
      });
      options.inTransaction?.(tx, rows);
      return rows;
    });
    if (changed.length === 0) return changed;
    const keyNow = session.keyNow();
    for (const row of changed) {
      index.put(row);
      mirror.markDirty(serial, row.id);
      const view = borrowViewOfRow(row, keyNow, productName);
      const until = view.dummyUntil === undefined ? "" : ` until ${view.dummyUntil}`;
      events.emit("borrow.dummy", `borrow ${row.id} on key ${serial} is a borrow dummy${until} (${options.cause})`, {
        serial,
        borrow: view,
      });
    }
    if (options.expected !== true) {
      log.error("the key holds borrow dummies the ledger did not show; ledger updated", {
        serial,
        ids: changed.map((row) => row.id),
        cause: options.cause,
      });
    }
    return changed;
  }
}

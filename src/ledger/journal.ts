import { LedgerDuplicateError, LedgerInvalidInputError, LedgerNotFoundError, LedgerOpFinishedError } from "./errors.js";
import { OP_COLUMNS, opChecksum, opFromStored, type StoredOp } from "./rows.js";
import type { LedgerStore } from "./store.js";
import type { NewOp, OpOutcome, OpRow } from "./types.js";
import { requireHex, requireNullableInteger, requireOpKind, requireOpOutcome, requireSerial } from "./validate.js";

/** The operation journal: one row per mutating operation, from its first step to its outcome. */

export function beginOp(store: LedgerStore, op: NewOp): OpRow {
  const row: OpRow = {
    opId: requireHex("opId", op.opId, 16),
    kind: requireOpKind(op.kind),
    serial: requireSerial(op.serial),
    borrowId: requireNullableInteger("borrowId", op.borrowId),
    step: op.step ?? "begun",
    outcome: "pending",
    errorCode: null,
    startedAt: op.startedAt ?? store.clock(),
    finishedAt: null,
    details: op.details ?? {},
  };
  return store.write("begin op", () => {
    if (getOp(store, row.opId) !== undefined) {
      throw new LedgerDuplicateError(`op ${row.opId} is already in the journal`, { details: { opId: row.opId } });
    }
    storeOp(store, row);
    return row;
  });
}

/** Records the named step reached; `details` are merged into the op's details. */
export function advanceOp(store: LedgerStore, opId: string, step: string, details?: Record<string, unknown>): OpRow {
  return store.write("advance op", () => {
    const current = requirePendingOp(store, opId, "advance");
    const next: OpRow = { ...current, step, details: { ...current.details, ...details } };
    storeOp(store, next);
    return next;
  });
}

/** Finishing twice with the same outcome is a no-op, so recovery may repeat itself. */
export function finishOp(
  store: LedgerStore,
  opId: string,
  outcome: Exclude<OpOutcome, "pending">,
  errorCode?: string,
): OpRow {
  if (requireOpOutcome(outcome) === "pending") throw new LedgerInvalidInputError("finishOp needs a final outcome");
  return store.write("finish op", () => {
    const current = getOp(store, opId);
    if (current !== undefined && current.outcome === outcome) return current;
    const pending = requirePendingOp(store, opId, "finish");
    const next: OpRow = { ...pending, outcome, errorCode: errorCode ?? null, finishedAt: store.clock() };
    storeOp(store, next);
    return next;
  });
}

/** Inserts or overwrites a whole journal row (import). */
export function restoreOp(store: LedgerStore, op: OpRow): OpRow {
  requireHex("opId", op.opId, 16);
  requireOpKind(op.kind);
  requireOpOutcome(op.outcome);
  return store.write("restore op", () => {
    storeOp(store, op);
    return op;
  });
}

export function getOp(store: LedgerStore, opId: string): OpRow | undefined {
  return store.guard("read op", () => {
    const row = store.stmt(`SELECT ${OP_COLUMNS} FROM ops WHERE op_id = ?`).get(opId) as StoredOp | undefined;
    return row === undefined ? undefined : verifyOp(store, row);
  });
}

export function listPendingOps(store: LedgerStore): OpRow[] {
  return store.guard("list pending ops", () =>
    // Table scan, like listOutstanding: recovery must not depend on an index quick_check does not verify.
    (
      store
        .stmt(`SELECT ${OP_COLUMNS} FROM ops WHERE +outcome = 'pending' ORDER BY started_at, op_id`)
        .all() as StoredOp[]
    ).map((row) => verifyOp(store, row)),
  );
}

function storeOp(store: LedgerStore, op: OpRow): void {
  const stored = { ...op, details: JSON.stringify(op.details) };
  store
    .stmt(
      `INSERT OR REPLACE INTO ops (op_id, kind, serial, borrow_id, step, outcome, error_code, started_at, finished_at,
         details, checksum)
       VALUES (@opId, @kind, @serial, @borrowId, @step, @outcome, @errorCode, @startedAt, @finishedAt, @details, @checksum)`,
    )
    .run({ ...stored, checksum: opChecksum(stored) });
}

function requirePendingOp(store: LedgerStore, opId: string, verb: string): OpRow {
  const current = getOp(store, opId);
  if (current === undefined) throw new LedgerNotFoundError(`op ${opId} is not in the journal`, { details: { opId } });
  if (current.outcome !== "pending") {
    throw new LedgerOpFinishedError(`cannot ${verb} op ${opId}: it already finished as ${current.outcome}`, {
      details: { opId, outcome: current.outcome },
    });
  }
  return current;
}

function verifyOp(store: LedgerStore, row: StoredOp): OpRow {
  if (opChecksum(row) !== row.checksum)
    throw store.rowCorrupt(`journal op ${row.opId} fails its checksum`, { opId: row.opId });
  return opFromStored(row);
}

import { BORROW_STATES, type BorrowState, borrowKey, OUTSTANDING_STATES } from "../vocabulary/index.js";
import { LedgerDuplicateError, LedgerNotFoundError } from "./errors.js";
import { mapLedgerError } from "./map-error.js";
import { BORROW_COLUMNS, borrowChecksum, borrowFromRaw, type RawBorrow, rawBorrowTypesValid } from "./rows.js";
import type { LedgerStore } from "./store.js";
import type { BorrowPatch, BorrowQuery, BorrowRow, NewBorrow } from "./types.js";
import {
  requireBorrowState,
  requireClient,
  requireHex,
  requireInteger,
  requireNullableInteger,
  requireSerial,
} from "./validate.js";

const OUTSTANDING_SQL = OUTSTANDING_STATES.map((state) => `'${state}'`).join(", ");

const INSERT_BORROW = `INSERT INTO borrows (serial, id, op_id, product, client, issued_at, expires_at, binding, tag, state,
    dummy_until, settle_op_id, created_at, updated_at, checksum)
  VALUES (@serial, @id, @opId, @product, @client, @issuedAt, @expiresAt, @binding, @tag, @state,
    @dummyUntil, @settleOpId, @createdAt, @updatedAt, @checksum)`;

export function insertBorrow(store: LedgerStore, row: NewBorrow): BorrowRow {
  const now = store.clock();
  const full = validateBorrow({
    ...row,
    dummyUntil: row.dummyUntil ?? null,
    settleOpId: row.settleOpId ?? null,
    createdAt: row.createdAt ?? now,
    updatedAt: row.updatedAt ?? row.createdAt ?? now,
  });
  return store.write("insert borrow", () => {
    try {
      store.stmt(INSERT_BORROW).run({ ...full, checksum: borrowChecksum(full) });
    } catch (error) {
      const mapped = mapLedgerError(error, store.file, "insert borrow");
      if (mapped instanceof LedgerDuplicateError) {
        throw new LedgerDuplicateError(
          `borrow ${full.serial}/${full.id} or its opId ${full.opId} is already recorded`,
          {
            cause: error,
            details: { serial: full.serial, id: full.id, opId: full.opId },
          },
        );
      }
      throw mapped;
    }
    return full;
  });
}

/** Inserts or overwrites a whole row: for import and for rebuilding from the registry and the key. */
export function upsertBorrow(store: LedgerStore, row: BorrowRow): BorrowRow {
  const full = validateBorrow(row);
  return store.write("upsert borrow", () => {
    store.stmt("DELETE FROM borrows WHERE (serial = ? AND id = ?) OR op_id = ?").run(full.serial, full.id, full.opId);
    store.stmt(INSERT_BORROW).run({ ...full, checksum: borrowChecksum(full) });
    return full;
  });
}

/** Verifies the stored row before changing it, so a corrupt row is never re-checksummed as good. */
export function updateBorrowState(store: LedgerStore, serial: string, id: number, patch: BorrowPatch): BorrowRow {
  return store.write("update borrow", () => {
    const current = getBorrow(store, serial, id);
    if (current === undefined) {
      throw new LedgerNotFoundError(`borrow ${serial}/${id} is not in the ledger`, { details: { serial, id } });
    }
    const next = validateBorrow({ ...current, ...definedFields(patch), updatedAt: patch.updatedAt ?? store.clock() });
    store
      .stmt(
        `UPDATE borrows SET state = @state, dummy_until = @dummyUntil, settle_op_id = @settleOpId, binding = @binding,
           issued_at = @issuedAt, expires_at = @expiresAt, updated_at = @updatedAt, checksum = @checksum
         WHERE serial = @serial AND id = @id`,
      )
      .run({ ...next, checksum: borrowChecksum(next) });
    return next;
  });
}

export function getBorrow(store: LedgerStore, serial: string, id: number): BorrowRow | undefined {
  return store.guard("read borrow", () => {
    const row = store.rawStmt(`SELECT ${BORROW_COLUMNS} FROM borrows WHERE serial = ? AND id = ?`).get(serial, id) as
      | RawBorrow
      | undefined;
    return row === undefined ? undefined : verifyBorrows(store, [row])[0];
  });
}

export function getBorrowByOpId(store: LedgerStore, opId: string): BorrowRow | undefined {
  return store.guard("read borrow by opId", () => {
    const raw = store.rawStmt(`SELECT ${BORROW_COLUMNS} FROM borrows WHERE op_id = ?`).get(opId) as
      | RawBorrow
      | undefined;
    const row = raw === undefined ? undefined : verifyBorrows(store, [raw])[0];
    // The lookup went through the op_id index; a damaged index entry may point at another row.
    if (row !== undefined && row.opId !== opId)
      throw store.rowCorrupt(`the op_id index points ${opId} at ${row.serial}/${row.id}`, { opId });
    return row;
  });
}

/** Active, returning and dummy borrows, every row checksum-verified. */
export function listOutstanding(store: LedgerStore): BorrowRow[] {
  return store.guard("list outstanding borrows", () =>
    verifyBorrows(
      store,
      // A table scan on purpose ("+state" keeps the planner off the index): the list the daemon acts
      // on must not depend on an index that quick_check does not verify.
      store
        .rawStmt(`SELECT ${BORROW_COLUMNS} FROM borrows WHERE +state IN (${OUTSTANDING_SQL}) ORDER BY serial, id`)
        .iterate() as IterableIterator<RawBorrow>,
    ),
  );
}

export function listBorrows(store: LedgerStore, query: BorrowQuery = {}): BorrowRow[] {
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
  return store.guard("list borrows", () => {
    const rows = verifyBorrows(
      store,
      store
        .rawStmt(`SELECT ${BORROW_COLUMNS} FROM borrows ${filter} ORDER BY serial, id LIMIT ? OFFSET ?`)
        .iterate(...params, limit, offset) as IterableIterator<RawBorrow>,
    );
    // A damaged page or index (the serial index may serve this query) must not smuggle in another state.
    const stray = states === undefined ? undefined : rows.find((row) => !states.includes(row.state));
    if (stray !== undefined) {
      throw store.rowCorrupt(`a state-filtered listing returned ${stray.serial}/${stray.id} in state ${stray.state}`, {
        serial: stray.serial,
        id: stray.id,
      });
    }
    return rows;
  });
}

export function countByState(store: LedgerStore): Record<BorrowState, number> {
  return store.guard("count borrows", () => {
    const counts = Object.fromEntries(BORROW_STATES.map((state) => [state, 0])) as Record<BorrowState, number>;
    const rows = store.stmt("SELECT state, count(*) AS n FROM borrows GROUP BY state").all() as {
      state: BorrowState;
      n: number;
    }[];
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  });
}

/**
 * Checks every row and names all bad ones, so an operator sees the extent of the damage at once.
 * Streams rows (iterate, not all), so raw rows and their objects are never held together: the
 * daemon's memory at start (`rss_mb_100k`) is the index, not a second copy of it.
 */
function verifyBorrows(store: LedgerStore, rows: Iterable<RawBorrow>): BorrowRow[] {
  const out: BorrowRow[] = [];
  const bad: { serial: string; id: number }[] = [];
  for (const raw of rows) {
    const row = borrowFromRaw(raw);
    if (!rawBorrowTypesValid(raw) || borrowChecksum(row) !== raw[14]) bad.push({ serial: row.serial, id: row.id });
    out.push(row);
  }
  if (bad.length > 0) {
    const names = bad.slice(0, 10).map((row) => borrowKey(row.serial, row.id));
    throw store.rowCorrupt(`${bad.length} borrow row(s) fail their checksum (${names.join(", ")})`, {
      badRows: bad.length,
      rows: bad.slice(0, 100),
    });
  }
  return out;
}

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

import type { LedgerStore } from "./store.js";
import type { AuditEntry, AuditQuery, NewAuditEntry } from "./types.js";
import { requireInteger } from "./validate.js";

/** The audit trail: append-only, what happened and why, for an operator. */

export function appendAudit(store: LedgerStore, entry: NewAuditEntry): number {
  return store.write("append audit entry", () => {
    const info = store
      .stmt("INSERT INTO audit (at, kind, serial, borrow_id, message, details) VALUES (?, ?, ?, ?, ?, ?)")
      .run(
        entry.at ?? store.clock(),
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
export function listAudit(store: LedgerStore, query: AuditQuery): AuditEntry[] {
  const limit = requireInteger("limit", query.limit);
  return store.guard("list audit", () => {
    const rows = store
      .stmt(
        `SELECT id, at, kind, serial, borrow_id AS borrowId, message, details FROM audit
         WHERE (@since IS NULL OR at >= @since) AND (@kind IS NULL OR kind = @kind)
           AND (@serial IS NULL OR serial = @serial) AND (@before IS NULL OR id < @before)
         ORDER BY id DESC LIMIT @limit`,
      )
      .all({
        since: query.since ?? null,
        kind: query.kind ?? null,
        serial: query.serial ?? null,
        before: query.before === undefined ? null : requireInteger("before", query.before),
        limit,
      }) as (Omit<AuditEntry, "details"> & {
      details: string;
    })[];
    return rows.map((row) => ({ ...row, details: JSON.parse(row.details) as Record<string, unknown> }));
  });
}

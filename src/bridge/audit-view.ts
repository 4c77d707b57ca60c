import type { Ledger } from "../ledger/index.js";
import type { AuditEntryView, AuditQueryInput } from "./api.js";
import { InvalidRequestError } from "./errors.js";

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

/** The audit trail as the API shows it: validated query in, ISO times and no nulls out. */
export function listAuditEntries(ledger: Pick<Ledger, "listAudit">, query: AuditQueryInput): AuditEntryView[] {
  const limit = query.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidRequestError("limit", `limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`);
  }
  if (query.before !== undefined && (!Number.isInteger(query.before) || query.before < 1)) {
    throw new InvalidRequestError(
      "before",
      `before must be an audit entry id (a positive integer), got ${query.before}`,
    );
  }
  let since: number | undefined;
  if (query.since !== undefined) {
    since = Date.parse(query.since);
    if (Number.isNaN(since)) {
      throw new InvalidRequestError("since", `since must be an ISO 8601 time, got '${query.since}'`);
    }
  }
  return ledger
    .listAudit({
      limit,
      ...(since === undefined ? {} : { since }),
      ...(query.kind === undefined ? {} : { kind: query.kind }),
      ...(query.serial === undefined ? {} : { serial: query.serial }),
      ...(query.before === undefined ? {} : { before: query.before }),
    })
    .map((entry) => ({
      id: entry.id,
      at: new Date(entry.at).toISOString(),
      kind: entry.kind,
      ...(entry.serial === null ? {} : { serial: entry.serial }),
      ...(entry.borrowId === null ? {} : { borrowId: entry.borrowId }),
      message: entry.message,
      details: entry.details,
    }));
}

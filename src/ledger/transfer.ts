import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { borrowKey } from "../vocabulary/index.js";
import { canonicalJson, sha256Hex } from "./checksum.js";
import {
  LedgerExportCorruptError,
  LedgerExportUnsupportedError,
  LedgerImportConflictError,
  LedgerInvalidInputError,
} from "./errors.js";
import { writeFileAtomic } from "./files.js";
import { nestingTooDeepAt } from "./json-bounds.js";
import { mapLedgerError } from "./map-error.js";
import { deriveTag, opIdBytes } from "./meta.js";
import type { BorrowRow, ImportSummary, KeyRow, KeyTouch, NewAuditEntry, OpRow } from "./types.js";
import { requireHex } from "./validate.js";

export const EXPORT_FORMAT = "keybridge-ledger-export";
export const EXPORT_VERSION = 1;
/** An export nests five levels (document, body, list, row, details); op details add a few at most. */
export const MAX_EXPORT_DEPTH = 32;
/** Far above the export of the largest ledger (100 000 outstanding borrows are about 50 MiB). */
export const MAX_EXPORT_BYTES = 256 * 1024 * 1024;

export interface ExportBody {
  sourceInstanceId: string;
  exportedAt: number;
  /** Hex. Whoever holds the export can derive every tag: keep the file private (it is written 0600). */
  serverSecret: string;
  keys: KeyRow[];
  borrows: BorrowRow[];
  pendingOps: OpRow[];
  /**
   * `serial/id` → seal of a borrow whose tag is not derived from its opId under `serverSecret`
   * (taken over from the registry after the ledger was lost, derived under a secret adopted from
   * another ledger, or the unknown-tag marker). Absent in exports of older versions.
   */
  tagSeals?: Record<string, string>;
}

interface ExportDocument {
  format: string;
  version: number;
  sha256: string;
  body: ExportBody;
}

function documentChecksum(version: number, body: unknown): string {
  return sha256Hex(canonicalJson({ format: EXPORT_FORMAT, version, body }));
}

const TAG_SEAL_CONTEXT = "keybridge-export-tag-seal-v1";

/** Whether the row's tag is HMAC(secret, opId), as every tag keybridge makes for a borrow is. */
function tagIsDerived(secret: Buffer, row: BorrowRow): boolean {
  try {
    return deriveTag(opIdBytes(row.opId), secret).toString("hex") === row.tag;
  } catch {
    // A malformed opId derives nothing: the row needs a seal, and an import refuses it without one.
    return false;
  }
}

function tagSeal(secret: Buffer, row: BorrowRow): string {
  return createHmac("sha256", secret)
    .update(TAG_SEAL_CONTEXT)
    .update(`${row.serial}\x1f${row.id}\x1f${row.opId}\x1f${row.tag}`)
    .digest("hex");
}

function sealMatches(secret: Buffer, row: BorrowRow, seal: unknown): boolean {
  if (typeof seal !== "string" || !/^[0-9a-f]{64}$/.test(seal)) return false;
  return timingSafeEqual(Buffer.from(seal, "hex"), Buffer.from(tagSeal(secret, row), "hex"));
}

/** The ledger as export and import use it; `Ledger` is one (it calls these functions, so they cannot name it). */
export interface TransferLedger {
  readonly instanceId: string;
  serverSecret(): Buffer;
  adoptServerSecret(secret: Buffer, sourceInstanceId: string): boolean;
  setMeta(key: string, value: string): void;
  audit(entry: NewAuditEntry): number;
  getBorrow(serial: string, id: number): BorrowRow | undefined;
  getBorrowByOpId(opId: string): BorrowRow | undefined;
  listOutstanding(): BorrowRow[];
  upsertBorrow(row: BorrowRow): BorrowRow;
  getOp(opId: string): OpRow | undefined;
  listPendingOps(): OpRow[];
  restoreOp(op: OpRow): OpRow;
  getPinnedKey(serial: string): KeyRow | undefined;
  listKeys(): KeyRow[];
  pinKey(serial: string, publicKey: string, now: number): KeyRow;
  replacePinnedKey(serial: string, publicKey: string, now: number): KeyRow;
  touchKey(serial: string, touch: KeyTouch): KeyRow;
  transaction<T>(fn: () => T): T;
  snapshot<T>(fn: () => T): T;
}

/**
 * The borrows whose tag is neither derived from their opId under the export's secret nor sealed
 * by it: edited after the export (the SHA-256 alone is recomputed by anyone). Returning such a
 * borrow would send the key a wrong tag and make a Borrow Dummy, so none of the file is imported.
 */
function tamperedRows(body: ExportBody): string[] {
  const secret = Buffer.from(body.serverSecret, "hex");
  const seals = body.tagSeals ?? {};
  const bad: string[] = [];
  for (const row of body.borrows) {
    const name = borrowKey(String(row?.serial), Number(row?.id));
    const valid =
      row !== null &&
      typeof row === "object" &&
      typeof row.tag === "string" &&
      (tagIsDerived(secret, row) || sealMatches(secret, row, seals[name]));
    if (!valid) bad.push(name);
  }
  return bad;
}

export function exportLedger(ledger: TransferLedger, file: string, now: number): ExportBody {
  const secret = ledger.serverSecret();
  const body: ExportBody = ledger.snapshot(() => ({
    sourceInstanceId: ledger.instanceId,
    exportedAt: now,
    serverSecret: secret.toString("hex"),
    keys: ledger.listKeys(),
    borrows: ledger.listOutstanding(),
    pendingOps: ledger.listPendingOps(),
  }));
  const tagSeals: Record<string, string> = {};
  for (const row of body.borrows) {
    if (!tagIsDerived(secret, row)) tagSeals[borrowKey(row.serial, row.id)] = tagSeal(secret, row);
  }
  body.tagSeals = tagSeals;
  const document: ExportDocument = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    sha256: documentChecksum(EXPORT_VERSION, body),
    body,
  };
  writeFileAtomic(file, `${JSON.stringify(document, null, 2)}\n`);
  ledger.transaction(() => {
    ledger.setMeta("last_export_at", String(now));
    ledger.audit({
      kind: "ledger-export",
      at: now,
      message: `exported ${body.borrows.length} outstanding borrow(s) and ${body.keys.length} key(s) to ${file}`,
      details: { file, borrows: body.borrows.length, keys: body.keys.length, pendingOps: body.pendingOps.length },
    });
  });
  return body;
}

export function readExport(file: string): ExportBody {
  const damaged = (reason: string, cause?: unknown) =>
    new LedgerExportCorruptError(`ledger export ${file} is damaged or was modified (${reason}); do not import it`, {
      cause,
      details: { file, reason },
    });
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_EXPORT_BYTES) throw damaged(`${size} bytes, more than any ledger export (${MAX_EXPORT_BYTES})`);
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (error instanceof LedgerExportCorruptError) throw error;
    throw mapLedgerError(error, file, "read ledger export");
  }
  // Before parsing: JSON.parse would build a hostile nesting in full, and the checksum's canonical
  // form walks it recursively until the stack runs out.
  const tooDeep = nestingTooDeepAt(text, MAX_EXPORT_DEPTH);
  if (tooDeep !== undefined) {
    throw damaged(`nested deeper than ${MAX_EXPORT_DEPTH} levels at character ${tooDeep}; not a ledger export`);
  }
  let document: Partial<ExportDocument>;
  try {
    document = JSON.parse(text) as Partial<ExportDocument>;
  } catch (error) {
    throw damaged("not valid JSON", error);
  }
  if (document === null || typeof document !== "object" || document.format !== EXPORT_FORMAT) {
    throw damaged("not a keybridge ledger export");
  }
  if (typeof document.version !== "number" || document.version > EXPORT_VERSION) {
    throw new LedgerExportUnsupportedError(
      `ledger export ${file} has format version ${String(document.version)}; this keybridge reads up to ${EXPORT_VERSION}`,
      { details: { file, version: document.version } },
    );
  }
  const actual = documentChecksum(document.version, document.body);
  if (document.sha256 !== actual)
    throw damaged(`checksum mismatch: file says ${String(document.sha256)}, content is ${actual}`);
  const body = document.body as ExportBody;
  if (!Array.isArray(body.keys) || !Array.isArray(body.borrows) || !Array.isArray(body.pendingOps)) {
    throw damaged("missing keys, borrows or pendingOps");
  }
  try {
    requireHex("serverSecret", body.serverSecret, 32);
  } catch (error) {
    throw damaged("malformed server secret", error);
  }
  if (body.tagSeals !== undefined && (body.tagSeals === null || typeof body.tagSeals !== "object")) {
    throw damaged("malformed tag seals");
  }
  const tampered = tamperedRows(body);
  if (tampered.length > 0) {
    const shown = `${tampered.slice(0, 10).join(", ")}${tampered.length > 10 ? `, ... (${tampered.length} in all)` : ""}`;
    throw new LedgerExportCorruptError(
      `ledger export ${file} was modified: the tag of borrow(s) ${shown} is not the one derived from its ` +
        "operation id under the export's secret (nor sealed by it); returning such a borrow would make a Borrow " +
        "Dummy. Do not import this file: export the ledger again from its source (an earlier keybridge did not " +
        "seal tags it had not derived: export again with this version)",
      { details: { file, reason: "tag-mismatch", rows: tampered } },
    );
  }
  return body;
}

export interface ImportOptions {
  /** Take over even where this ledger holds different outstanding borrows or pins for the same serial. */
  force?: boolean;
  now: number;
}

/** Why an import would overwrite something this ledger knows differently. */
export function findConflicts(ledger: TransferLedger, body: ExportBody): string[] {
  const conflicts: string[] = [];
  for (const key of body.keys) {
    const pinned = ledger.getPinnedKey(key.serial);
    if (pinned !== undefined && pinned.publicKey !== key.publicKey) {
      conflicts.push(`key ${key.serial} is pinned here to a different public key`);
    }
  }
  const incoming = new Map(body.borrows.map((row) => [borrowKey(row.serial, row.id), row]));
  const serials = new Set(body.borrows.map((row) => row.serial));
  for (const row of ledger.listOutstanding()) {
    if (serials.has(row.serial) && !incoming.has(borrowKey(row.serial, row.id))) {
      conflicts.push(`borrow ${row.serial}/${row.id} is outstanding here but not in the export`);
    }
  }
  for (const row of body.borrows) {
    const mine = ledger.getBorrow(row.serial, row.id) ?? ledger.getBorrowByOpId(row.opId);
    if (mine !== undefined && !sameBorrow(mine, row)) {
      conflicts.push(`borrow ${row.serial}/${row.id} is recorded here differently (state ${mine.state})`);
    }
  }
  return conflicts;
}

function sameBorrow(a: BorrowRow, b: BorrowRow): boolean {
  return (
    a.serial === b.serial &&
    a.id === b.id &&
    a.opId === b.opId &&
    a.tag === b.tag &&
    a.binding === b.binding &&
    a.product === b.product &&
    a.client === b.client &&
    a.state === b.state
  );
}

export function importLedger(ledger: TransferLedger, file: string, options: ImportOptions): ImportSummary {
  const body = readExport(file);
  const force = options.force ?? false;
  return ledger.transaction(() => {
    const conflicts = findConflicts(ledger, body);
    if (conflicts.length > 0 && !force) {
      throw new LedgerImportConflictError(
        `ledger export ${file} conflicts with this ledger: ${conflicts.slice(0, 5).join("; ")}${conflicts.length > 5 ? "; ..." : ""}; import with force to take over`,
        { details: { file, conflicts } },
      );
    }
    const adoptedSecret = ledger.adoptServerSecret(Buffer.from(body.serverSecret, "hex"), body.sourceInstanceId);
    try {
      for (const key of body.keys) applyKey(ledger, key);
      for (const row of body.borrows) ledger.upsertBorrow(row);
      for (const op of body.pendingOps) if (force || ledger.getOp(op.opId) === undefined) ledger.restoreOp(op);
    } catch (error) {
      if (error instanceof LedgerInvalidInputError) {
        throw new LedgerExportCorruptError(`ledger export ${file} holds an invalid row: ${error.message}`, {
          cause: error,
          details: { file },
        });
      }
      throw error;
    }
    const summary: ImportSummary = {
      sourceInstanceId: body.sourceInstanceId,
      keys: body.keys.length,
      borrows: body.borrows.length,
      pendingOps: body.pendingOps.length,
      adoptedSecret,
      forced: force && conflicts.length > 0,
    };
    ledger.audit({
      kind: "ledger-import",
      at: options.now,
      message: `imported ${summary.borrows} outstanding borrow(s) and ${summary.keys} key(s) from ledger ${body.sourceInstanceId}${summary.forced ? " (forced over conflicts)" : ""}`,
      details: { file, ...summary, conflicts },
    });
    return summary;
  });
}

function applyKey(ledger: TransferLedger, key: KeyRow): void {
  const pinned = ledger.getPinnedKey(key.serial);
  if (pinned === undefined) ledger.pinKey(key.serial, key.publicKey, key.firstSeen);
  else if (pinned.publicKey !== key.publicKey) ledger.replacePinnedKey(key.serial, key.publicKey, key.firstSeen);
  ledger.touchKey(key.serial, {
    lastSeen: Math.max(key.lastSeen, pinned?.lastSeen ?? 0),
    lastBinding: key.lastBinding,
    licenseSetVersion: key.licenseSetVersion,
  });
}

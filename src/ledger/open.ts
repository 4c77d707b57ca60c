import { join } from "node:path";
import Database from "better-sqlite3";
import { layerLogger } from "../log.js";
import { LedgerReadOnlyError } from "./errors.js";
import { DEFAULT_FILE_NAME } from "./file-name.js";
import { ensureDir, ensureFile, quarantineFiles, tightenModes } from "./files.js";
import { checkHeader, checkStructure, type IntegrityMode } from "./integrity.js";
import { Ledger } from "./ledger.js";
import { mapLedgerError } from "./map-error.js";
import { salvage } from "./salvage.js";
import { migrate, SCHEMA_VERSION, schemaVersionOf, verifySchema } from "./schema.js";

const log = layerLogger("ledger");

export { DEFAULT_FILE_NAME };

export interface OpenLedgerOptions {
  dir: string;
  fileName?: string;
  /** Open without writing anything (inspection while the daemon runs). */
  readOnly?: boolean;
  /** How long a write waits for another process's lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * "quick" runs `PRAGMA quick_check` (page and record structure), "full" `integrity_check` (also
   * index contents; about 3x slower). Default "quick"; row checksums cover what both miss.
   */
  integrityCheck?: IntegrityMode;
  /**
   * `PRAGMA quick_check` already passed on this file moments before, on another connection (the
   * daemon runs it on a worker thread while its modules load), so the "quick" check is not repeated.
   */
  quickCheckPassed?: boolean;
  /** Caps the file size; a write past it fails with LEDGER_DISK_FULL. Default: no cap. */
  maxSizeBytes?: number;
  /** Epoch-ms clock for created/updated/audit times. Default Date.now. */
  clock?: () => number;
}

/**
 * Opens (creating if needed) the ledger in `dir`: directory 0700, files 0600, WAL, synchronous=FULL,
 * header sanity, SQLite integrity check, schema migrations, then checksum verification of the
 * secret, the pinned keys, the pending journal and every outstanding borrow.
 * Throws LEDGER_CORRUPT, LEDGER_TOO_NEW, LEDGER_READ_ONLY, LEDGER_DISK_FULL or LEDGER_IO.
 */
export function openLedger(options: OpenLedgerOptions): Ledger {
  return openAt(options, false);
}

function openAt(options: OpenLedgerOptions, rebuilt: boolean): Ledger {
  const file = join(options.dir, options.fileName ?? DEFAULT_FILE_NAME);
  const readOnly = options.readOnly ?? false;
  const clock = options.clock ?? Date.now;
  if (!readOnly) {
    ensureDir(options.dir);
    ensureFile(file);
  }
  checkHeader(file);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: readOnly, fileMustExist: readOnly, timeout: options.busyTimeoutMs ?? 5000 });
  } catch (error) {
    throw mapLedgerError(error, file, "open ledger");
  }
  try {
    configure(db, file, options);
    const integrityCheck = options.integrityCheck ?? "quick";
    if (!(integrityCheck === "quick" && options.quickCheckPassed === true)) checkStructure(db, file, integrityCheck);
    prepareSchema(db, file, readOnly, clock());
    verifySchema(db, file);
    const ledger = new Ledger({ db, file, dir: options.dir, clock, rebuilt });
    ledger.initialiseMeta(!readOnly);
    verifyLiveRows(ledger);
    if (!readOnly) tightenModes(file);
    return ledger;
  } catch (error) {
    db.close();
    throw mapLedgerError(error, file, "open ledger");
  }
}

function configure(db: Database.Database, file: string, options: OpenLedgerOptions): void {
  try {
    if (!options.readOnly) db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    if (options.maxSizeBytes !== undefined) {
      const pageSize = db.pragma("page_size", { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxSizeBytes / pageSize))}`);
    }
  } catch (error) {
    throw mapLedgerError(error, file, "configure ledger");
  }
}

function prepareSchema(db: Database.Database, file: string, readOnly: boolean, now: number): void {
  if (readOnly) {
    const version = schemaVersionOf(db);
    if (version !== SCHEMA_VERSION) {
      throw new LedgerReadOnlyError(
        `ledger ${file} has schema version ${version}, expected ${SCHEMA_VERSION}; open it writable once to migrate`,
        { details: { file, version } },
      );
    }
    return;
  }
  for (const migration of migrate(db, file, now)) {
    log.info("ledger schema migrated", { file, version: migration.version, name: migration.name });
  }
}

/**
 * The small tables the daemon acts on at start are checksum-verified here. Outstanding borrows are
 * verified by `listOutstanding` itself, which the daemon calls once at start: verifying them here
 * too would do that work twice.
 */
function verifyLiveRows(ledger: Ledger): void {
  ledger.listKeys();
  ledger.listPendingOps();
  ledger.serverSecrets();
}

export interface QuarantineOptions extends Omit<OpenLedgerOptions, "readOnly"> {
  /** Why the ledger is being replaced; recorded in the audit entry. */
  reason?: string;
}

/**
 * Renames the (corrupt) ledger files to `<name>.corrupt-<timestamp>` — never deletes them — and
 * opens a fresh ledger flagged `rebuilt: true`. The server secret and pinned keys are carried
 * over when they can still be read from the old file and pass their checksums, so tags derived
 * before the damage stay derivable; the caller rebuilds the borrows from the registry and the key.
 */
export function quarantineAndCreate(dirOrOptions: string | QuarantineOptions): Ledger {
  const options: QuarantineOptions = typeof dirOrOptions === "string" ? { dir: dirOrOptions } : dirOrOptions;
  const file = join(options.dir, options.fileName ?? DEFAULT_FILE_NAME);
  const clock = options.clock ?? Date.now;
  const rescued = salvage(file);
  const moved = quarantineFiles(file, clock());
  log.warn("ledger quarantined", { file, moved, reason: options.reason });
  const ledger = openAt(options, true);
  try {
    const adoptedSecret = rescued.secret === undefined ? false : ledger.adoptServerSecret(rescued.secret, "salvaged");
    for (const key of rescued.keys) ledger.pinKey(key.serial, key.publicKey, key.firstSeen);
    ledger.audit({
      kind: "ledger-rebuilt",
      message: `ledger ${file} was quarantined and recreated; rebuild its borrows from the registry and the key`,
      details: {
        quarantined: moved,
        reason: options.reason ?? null,
        salvagedSecret: adoptedSecret,
        salvagedKeys: rescued.keys.length,
        salvageProblems: rescued.problems,
      },
    });
  } catch (error) {
    ledger.close();
    throw error;
  }
  return ledger;
}

import Database from "better-sqlite3";
import { LedgerCorruptError, LedgerTooNewError } from "./errors.js";

export interface Migration {
  version: number;
  name: string;
  up(db: Database.Database): void;
}

const STATES = "'active', 'returning', 'returned', 'settled', 'rolled-back', 'dummy'";
const KINDS = "'borrow', 'return', 'settle-expired', 'rebind', 'license-update', 'rollback'";
const OUTCOMES = "'pending', 'done', 'failed', 'rolled-back'";

/** Ordered; a migration never changes once released — add a new one instead. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    up(db) {
      db.exec(`
        CREATE TABLE meta (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          checksum TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE keys (
          serial TEXT PRIMARY KEY,
          public_key BLOB NOT NULL CHECK (length(public_key) = 32),
          first_seen INTEGER NOT NULL,
          last_seen INTEGER NOT NULL,
          last_binding TEXT,
          license_set_version INTEGER,
          checksum TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE borrows (
          serial TEXT NOT NULL,
          id INTEGER NOT NULL,
          op_id TEXT NOT NULL UNIQUE,
          product INTEGER NOT NULL,
          client TEXT NOT NULL,
          issued_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          binding TEXT NOT NULL,
          tag TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN (${STATES})),
          dummy_until INTEGER,
          settle_op_id TEXT,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          checksum TEXT NOT NULL,
          PRIMARY KEY (serial, id)
        ) WITHOUT ROWID;
        CREATE INDEX borrows_state ON borrows (state);

        CREATE TABLE ops (
          op_id TEXT PRIMARY KEY,
          kind TEXT NOT NULL CHECK (kind IN (${KINDS})),
          serial TEXT NOT NULL,
          borrow_id INTEGER,
          step TEXT NOT NULL,
          outcome TEXT NOT NULL CHECK (outcome IN (${OUTCOMES})),
          error_code TEXT,
          started_at INTEGER NOT NULL,
          finished_at INTEGER,
          details TEXT NOT NULL DEFAULT '{}',
          checksum TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE audit (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          at INTEGER NOT NULL,
          kind TEXT NOT NULL,
          serial TEXT,
          borrow_id INTEGER,
          message TEXT NOT NULL,
          details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX audit_at ON audit (at);
        CREATE INDEX audit_kind ON audit (kind, id);
      `);
    },
  },
  {
    version: 2,
    name: "drop the unused borrows state index",
    up(db) {
      // No query reads it (the outstanding list scans on purpose, lookups go by key or op_id), yet
      // every borrow and return rewrote one of its pages in the commit.
      db.exec("DROP INDEX IF EXISTS borrows_state;");
    },
  },
  {
    version: 3,
    name: "CodeMeter observations",
    up(db) {
      // What the read-only CodeMeter mode observed of CodeMeter's borrows: kept apart from
      // keybridge's own borrows (CodeMeter holds these; keybridge only watches its log). Each row
      // is the module's observation as JSON, with the columns its queries need and a checksum.
      db.exec(`
        CREATE TABLE codemeter_borrows (
          key TEXT PRIMARY KEY,
          borrow_id TEXT NOT NULL,
          serial TEXT,
          status TEXT NOT NULL,
          status_at INTEGER NOT NULL,
          data TEXT NOT NULL,
          checksum TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX codemeter_borrows_status ON codemeter_borrows (status, status_at);

        CREATE TABLE codemeter_licenses (
          license_id TEXT PRIMARY KEY,
          data TEXT NOT NULL,
          checksum TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE codemeter_facts (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          checksum TEXT NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

export function schemaVersionOf(db: Database.Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/**
 * Brings the schema to SCHEMA_VERSION, one transaction per migration so a crash leaves the
 * ledger at a known version. Returns the migrations applied.
 */
export function migrate(db: Database.Database, file: string, now: number): Migration[] {
  const current = schemaVersionOf(db);
  if (current > SCHEMA_VERSION) {
    throw new LedgerTooNewError(
      `ledger ${file} has schema version ${current}, newer than ${SCHEMA_VERSION} known to this keybridge; upgrade keybridge`,
      { details: { file, version: current, known: SCHEMA_VERSION } },
    );
  }
  if (current === 0 && hasTables(db)) {
    // user_version lives in the file header; a flipped bit there must not re-run migration 1.
    throw new LedgerCorruptError(`ledger ${file} is corrupt: schema version 0 but tables exist`, {
      details: { file },
    });
  }
  const applied: Migration[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
      db.prepare("INSERT INTO audit (at, kind, message, details) VALUES (?, 'migrate', ?, ?)").run(
        now,
        `schema migrated to version ${migration.version}: ${migration.name}`,
        JSON.stringify({ from: current, to: migration.version }),
      );
    }).immediate();
    applied.push(migration);
  }
  return applied;
}

function hasTables(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").get() !== undefined;
}

let expectedSchema: string | undefined;

function schemaText(db: Database.Database): string {
  return JSON.stringify(
    db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").raw(true).all(),
  );
}

/**
 * The schema text lives in the file like any data: a flipped bit can rename a column or drop a
 * CHECK without SQLite objecting. Compare it with the schema the migrations build in memory.
 */
export function verifySchema(db: Database.Database, file: string): void {
  if (expectedSchema === undefined) {
    const reference = new Database(":memory:");
    try {
      for (const migration of MIGRATIONS) migration.up(reference);
      expectedSchema = schemaText(reference);
    } finally {
      reference.close();
    }
  }
  if (schemaText(db) !== expectedSchema) {
    throw new LedgerCorruptError(
      `ledger ${file} is corrupt: its schema differs from schema version ${SCHEMA_VERSION}`,
      {
        details: { file },
      },
    );
  }
}

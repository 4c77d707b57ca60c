import { statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { LedgerTooNewError, openLedger, SCHEMA_VERSION } from "../../../src/ledger/index.js";
import { openTracked, sampleBorrow, tempDir, track } from "./helpers.js";

describe("openLedger", () => {
  it("creates the schema from an empty directory and records the migration", () => {
    const dir = tempDir();
    const ledger = openTracked({ dir });
    const db = new Database(join(dir, "ledger.db"), { readonly: true });
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      db.close();
    }
    const migrations = ledger.listAudit({ kind: "migrate", limit: 10 });
    expect(migrations).toHaveLength(SCHEMA_VERSION);
    expect(ledger.rebuilt).toBe(false);
  });

  it("creates the directory 0700 and the files 0600", () => {
    const dir = tempDir();
    const ledger = openTracked({ dir });
    ledger.insertBorrow(sampleBorrow());
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const file of ["ledger.db", "ledger.db-wal", "ledger.db-shm"]) {
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    }
  });

  it("keeps borrows, keys, the secret and the instance id across a reopen", () => {
    const dir = tempDir();
    const first = openLedger({ dir });
    const borrow = first.insertBorrow(sampleBorrow());
    first.pinKey("KB-0001", "ab".repeat(32), 5);
    const secret = first.serverSecret();
    const instance = first.instanceId;
    first.close();

    const second = track(openLedger({ dir }));
    expect(second.getBorrow(borrow.serial, borrow.id)).toEqual(borrow);
    expect(second.getPinnedKey("KB-0001")?.publicKey).toBe("ab".repeat(32));
    expect(second.serverSecret().equals(secret)).toBe(true);
    expect(second.instanceId).toBe(instance);
    expect(second.listAudit({ kind: "migrate", limit: 10 })).toHaveLength(SCHEMA_VERSION);
  });

  it("gives each new ledger its own 32-byte secret", () => {
    const a = openTracked({ dir: tempDir() });
    const b = openTracked({ dir: tempDir() });
    expect(a.serverSecret()).toHaveLength(32);
    expect(a.serverSecret().equals(b.serverSecret())).toBe(false);
    expect(a.instanceId).not.toBe(b.instanceId);
  });

  it("refuses a ledger written by a newer schema with LEDGER_TOO_NEW", () => {
    const dir = tempDir();
    openLedger({ dir }).close();
    const db = new Database(join(dir, "ledger.db"));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openLedger({ dir })).toThrow(LedgerTooNewError);
    try {
      openLedger({ dir });
    } catch (error) {
      expect((error as LedgerTooNewError).code).toBe("LEDGER_TOO_NEW");
      expect((error as Error).message).toContain("ledger.db");
    }
  });

  it("honours a custom file name", () => {
    const dir = tempDir();
    openTracked({ dir, fileName: "other.db" });
    expect(statSync(join(dir, "other.db")).isFile()).toBe(true);
  });

  it("opens read-only for inspection without creating anything", () => {
    const dir = tempDir();
    const writer = openTracked({ dir });
    const borrow = writer.insertBorrow(sampleBorrow());
    const reader = openTracked({ dir, readOnly: true });
    expect(reader.getBorrow(borrow.serial, borrow.id)).toEqual(borrow);
  });
});

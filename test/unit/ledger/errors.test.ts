import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { KeybridgeError } from "../../../src/errors.js";
import {
  LedgerClosedError,
  LedgerDiskFullError,
  LedgerReadOnlyError,
  mapLedgerError,
  openLedger,
} from "../../../src/ledger/index.js";
import { openTracked, sampleBorrow, tempDir, track } from "./helpers.js";

const isRoot = process.getuid?.() === 0;

describe("error mapping", () => {
  it.each([
    ["SQLITE_CORRUPT", "LEDGER_CORRUPT"],
    ["SQLITE_CORRUPT_INDEX", "LEDGER_CORRUPT"],
    ["SQLITE_NOTADB", "LEDGER_CORRUPT"],
    ["SQLITE_FULL", "LEDGER_DISK_FULL"],
    ["SQLITE_READONLY", "LEDGER_READ_ONLY"],
    ["SQLITE_READONLY_DBMOVED", "LEDGER_READ_ONLY"],
    ["SQLITE_PERM", "LEDGER_READ_ONLY"],
    ["SQLITE_IOERR_FSYNC", "LEDGER_IO"],
    ["SQLITE_CANTOPEN", "LEDGER_IO"],
    ["SQLITE_CONSTRAINT_UNIQUE", "LEDGER_DUPLICATE"],
  ])("maps %s to %s and names the file", (sqliteCode, code) => {
    const mapped = mapLedgerError(new Database.SqliteError("native message", sqliteCode), "/data/ledger.db", "write");
    expect(mapped.code).toBe(code);
    expect(mapped.message).toContain("/data/ledger.db");
    expect(mapped.cause).toBeInstanceOf(Database.SqliteError);
  });

  it.each([
    ["ENOSPC", "LEDGER_DISK_FULL"],
    ["EDQUOT", "LEDGER_DISK_FULL"],
    ["EACCES", "LEDGER_READ_ONLY"],
    ["EPERM", "LEDGER_READ_ONLY"],
    ["EROFS", "LEDGER_READ_ONLY"],
    ["EIO", "LEDGER_IO"],
  ])("maps file-system %s to %s", (errno, code) => {
    const error = Object.assign(new Error(`${errno}: failed`), { code: errno });
    expect(mapLedgerError(error, "/data", "create").code).toBe(code);
  });

  it("passes typed errors through unchanged", () => {
    const typed = new KeybridgeError("SOMETHING", "already typed");
    expect(mapLedgerError(typed, "/x", "y")).toBe(typed);
  });
});

describe("typed errors from a real ledger", () => {
  it("refuses writes on a read-only handle with LEDGER_READ_ONLY", () => {
    const dir = tempDir();
    openTracked({ dir });
    const reader = openTracked({ dir, readOnly: true });
    expect(() => reader.insertBorrow(sampleBorrow())).toThrow(LedgerReadOnlyError);
  });

  it("reports a full ledger as LEDGER_DISK_FULL and keeps earlier data readable", async () => {
    const ledger = openTracked({ dir: tempDir(), maxSizeBytes: 128 * 1024 });
    const first = ledger.insertBorrow(sampleBorrow({ serial: "KB-FULL", id: 1 }));
    let failure: unknown;
    try {
      ledger.transaction((tx) => {
        for (let id = 2; id < 5000; id++) tx.insertBorrow(sampleBorrow({ serial: "KB-FULL", id }));
      });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(LedgerDiskFullError);
    expect(ledger.listBorrows({ serial: "KB-FULL" })).toEqual([first]);
    const grouped = ledger.commit((tx) => {
      for (let id = 2; id < 5000; id++) tx.insertBorrow(sampleBorrow({ serial: "KB-FULL", id }));
    });
    await expect(grouped).rejects.toBeInstanceOf(LedgerDiskFullError);
    expect(ledger.listBorrows({ serial: "KB-FULL" })).toEqual([first]);
  });

  it("reports itself unhealthy while the disk refuses group commits, and healthy again after one succeeds", async () => {
    const ledger = openTracked({ dir: tempDir(), maxSizeBytes: 128 * 1024 });
    await ledger.commit((tx) => tx.insertBorrow(sampleBorrow({ serial: "KB-FULL", id: 1 })));
    expect(ledger.healthy).toBe(true);
    // A refused row is the caller's problem, not the ledger's.
    await expect(
      ledger.commit((tx) => tx.insertBorrow(sampleBorrow({ serial: "KB-FULL", id: 1 }))),
    ).rejects.toMatchObject({ code: "LEDGER_DUPLICATE" });
    expect(ledger.healthy).toBe(true);

    const tooMuch = ledger.commit((tx) => {
      for (let id = 2; id < 5000; id++) tx.insertBorrow(sampleBorrow({ serial: "KB-FULL", id }));
    });
    await expect(tooMuch).rejects.toBeInstanceOf(LedgerDiskFullError);
    expect(ledger.healthy).toBe(false);
    expect(ledger.lastFailure).toBeInstanceOf(LedgerDiskFullError);

    await ledger.commit((tx) => tx.updateBorrowState("KB-FULL", 1, { state: "returned" }));
    expect(ledger.healthy).toBe(true);
    expect(ledger.lastFailure).toBeUndefined();
  });

  it("reports a data directory that is a file as LEDGER_IO", () => {
    const dir = tempDir();
    mkdirSync(dirname(dir), { recursive: true });
    writeFileSync(dir, "not a directory");
    expect(() => openLedger({ dir })).toThrow(expect.objectContaining({ code: "LEDGER_IO" }));
  });

  it.skipIf(isRoot)("reports an unwritable directory as LEDGER_READ_ONLY", () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o500);
    try {
      expect(() => openLedger({ dir })).toThrow(LedgerReadOnlyError);
    } finally {
      chmodSync(dir, 0o700);
    }
  });

  it("refuses every call after close with LEDGER_CLOSED", () => {
    const ledger = track(openLedger({ dir: tempDir() }));
    ledger.close();
    expect(() => ledger.insertBorrow(sampleBorrow())).toThrow(LedgerClosedError);
    expect(() => ledger.getPinnedKey("KB-1")).toThrow(LedgerClosedError);
    expect(() => ledger.serverSecret()).toThrow(LedgerClosedError);
    expect(() => ledger.close()).not.toThrow();
  });

  it("reports a missing ledger opened read-only as LEDGER_IO naming the file", () => {
    const dir = tempDir();
    expect(() => openLedger({ dir, readOnly: true })).toThrow(expect.objectContaining({ code: "LEDGER_IO" }));
    try {
      openLedger({ dir, readOnly: true });
    } catch (error) {
      expect((error as Error).message).toContain(join(dir, "ledger.db"));
    }
  });
});

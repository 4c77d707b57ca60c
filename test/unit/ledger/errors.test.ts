import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
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
import { Requirement } from "../../support/require-tool.js";
import { openTracked, sampleBorrow, tempDir, track } from "./helpers.js";

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const LEDGER_MODULE = resolve("dist/src/ledger/index.js");
const build = Requirement.build(LEDGER_MODULE);

/** Opens the ledger in `dir` in a child process running as `uid`; what it threw, by class and code. */
function openAs(uid: number, dir: string): { uid: number; error?: string; code?: string } {
  const script = [
    `const { openLedger } = await import(${JSON.stringify(pathToFileURL(LEDGER_MODULE).href)});`,
    "let outcome = { uid: process.getuid() };",
    `try { openLedger({ dir: ${JSON.stringify(dir)} }).close(); }`,
    "catch (error) { outcome = { ...outcome, error: error.constructor.name, code: error.code }; }",
    "process.stdout.write('\\n' + JSON.stringify(outcome) + '\\n');",
  ].join("\n");
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    uid,
    gid: uid,
    encoding: "utf8",
    env: { PATH: process.env.PATH, KEYBRIDGE_LOG_LEVEL: "error" },
  });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}");
}

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

  it("reports an unwritable directory as LEDGER_READ_ONLY", (ctx) => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o500);
    try {
      if (!isRoot) {
        expect(() => openLedger({ dir })).toThrow(LedgerReadOnlyError);
        return;
      }
      // Root may write into any directory, so in this process the check could not fail: the
      // ledger is opened by a child process running as an unprivileged user who owns the directory.
      build.check(ctx);
      chmodSync(dirname(dir), 0o755);
      chownSync(dir, NOBODY, NOBODY);
      expect(openAs(NOBODY, dir)).toEqual({ uid: NOBODY, error: "LedgerReadOnlyError", code: "LEDGER_READ_ONLY" });
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

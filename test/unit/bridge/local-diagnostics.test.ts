import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { verifyLedger } from "../../../src/bridge/local-diagnostics.js";
import { openLedger } from "../../../src/ledger/index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function ledgerWithOneBorrow(): { dir: string; close: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "kb-diagnostics-"));
  dirs.push(dir);
  const ledger = openLedger({ dir });
  const now = Date.now();
  ledger.transaction((tx) =>
    tx.insertBorrow({
      serial: "KB-1",
      id: 1,
      opId: "00".repeat(16),
      product: 7,
      client: "ws-1",
      issuedAt: now,
      expiresAt: now + 86_400_000,
      binding: "11".repeat(32),
      tag: "22".repeat(16),
      state: "active",
    }),
  );
  return { dir, close: () => ledger.close() };
}

describe("verifyLedger (doctor's ledger check)", () => {
  it("leaves no -wal or -shm behind for a stopped daemon (root-owned ones would lock the service out)", async () => {
    const { dir, close } = ledgerWithOneBorrow();
    close();
    expect(readdirSync(dir).sort()).toEqual(["ledger.db"]);
    expect(await verifyLedger(dir)).toEqual({ outstanding: 1 });
    expect(readdirSync(dir).sort()).toEqual(["ledger.db"]);
  });

  it("reads the ledger in place while the daemon holds it open, commits in its WAL included", async () => {
    const { dir, close } = ledgerWithOneBorrow();
    try {
      expect(readdirSync(dir).sort()).toEqual(["ledger.db", "ledger.db-shm", "ledger.db-wal"]);
      expect(await verifyLedger(dir)).toEqual({ outstanding: 1 });
    } finally {
      close();
    }
  });

  it("says there is nothing to check when there is no ledger yet", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-diagnostics-"));
    dirs.push(dir);
    expect(await verifyLedger(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });
});

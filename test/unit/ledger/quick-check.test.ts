import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, it } from "vitest";
import { openLedger } from "../../../src/ledger/index.js";
import { describeNeeding, Requirement } from "../../support/require-tool.js";
import { closeBridge, openVirtual, tempDataDir } from "../bridge/helpers.js";
import { captureLogs } from "../log-capture.js";

// The worker runs compiled JavaScript, so these tests use the build (`npm run build`).
const built = resolve("dist/src/ledger/quick-check.js");
const build = Requirement.build(built);

async function startLedgerCheck(dataDir: string): Promise<boolean> {
  const module = (await import(pathToFileURL(built).href)) as { startLedgerCheck(dir: string): Promise<boolean> };
  return module.startLedgerCheck(dataDir);
}

/** Adds 400 returned rows of `serial` from `firstId` on, so the ledger spans many b-tree pages; closes it. */
function addHistory(dir: string, serial: string, firstId: number): void {
  const ledger = openLedger({ dir });
  ledger.transaction((tx) => {
    for (let id = firstId; id < firstId + 400; id++) {
      tx.insertBorrow({
        serial,
        id,
        opId: id.toString(16).padStart(32, "0"),
        product: 1001,
        client: `client-${id}`,
        issuedAt: 1_000,
        expiresAt: 2_000,
        binding: "ab".repeat(32),
        tag: id.toString(16).padStart(32, "0"),
        state: "returned",
      });
    }
  });
  ledger.close();
}

/** A closed ledger with a few hundred rows. */
function populatedLedger(): string {
  const dir = tempDataDir();
  addHistory(dir, "KB-CHECK-0001", 1);
  return dir;
}

/** Overwrites one b-tree page in the middle of the file: the header stays valid, quick_check fails. */
function damageAPage(dir: string): void {
  const file = join(dir, "ledger.db");
  const pageSize = readFileSync(file).readUInt16BE(16);
  const pages = statSync(file).size / pageSize;
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, Math.floor(pages / 2) * pageSize);
  } finally {
    closeSync(fd);
  }
}

describeNeeding(build, "the ledger's quick_check on a worker thread", () => {
  it("passes for a healthy ledger", async () => {
    expect(await startLedgerCheck(populatedLedger())).toBe(true);
  });

  it("does not pass for a missing ledger or one with a damaged page", async () => {
    expect(await startLedgerCheck(tempDataDir())).toBe(false);
    const dir = populatedLedger();
    damageAPage(dir);
    expect(await startLedgerCheck(dir)).toBe(false);
  });

  it("a ledger whose check did not pass is still found corrupt at open, quarantined and rebuilt", async () => {
    const dataDir = tempDataDir();
    const first = await openVirtual({ dataDir });
    const borrow = await first.borrow({ product: 1001, client: "a" });
    await closeBridge(first);
    const file = join(dataDir, "ledger.db");
    // Enough history for a page in the middle to hold rows, not the schema.
    addHistory(dataDir, "KB-OTHER-0001", 1000);
    expect(existsSync(`${file}-wal`)).toBe(false);
    damageAPage(dataDir);

    const check = startLedgerCheck(dataDir);
    expect(await check).toBe(false);
    const logs = captureLogs();
    const bridge = await openVirtual({ dataDir }, { ledgerCheck: check });
    const status = await bridge.status();
    expect(status.ledger.rebuilt).toBe(true);
    expect(logs.matching("error", /^the ledger is corrupt; quarantining it and rebuilding/)).toHaveLength(1);
    expect(status.borrows.map((view) => view.id)).toEqual([borrow.id]);
  });
});

import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { openAt, returnAll, SERIAL, seriousFindings, snapshot, withBorrowsOut } from "./helpers.js";

const LEDGER = "ledger.db";

function quarantined(dataDir: string): string[] {
  return readdirSync(dataDir).filter((name) => name.startsWith(`${LEDGER}.corrupt-`));
}

function removeLedger(dataDir: string): void {
  for (const name of readdirSync(dataDir)) if (name.startsWith(LEDGER)) rmSync(join(dataDir, name));
}

/** Overwrites the bytes of `text` (first occurrence) in the file; the row holding it no longer verifies. */
function scribbleOver(file: string, text: string): void {
  const bytes = readFileSync(file);
  const at = bytes.indexOf(Buffer.from(text, "utf8"));
  expect(at, `${text} not found in ${file}`).toBeGreaterThanOrEqual(0);
  bytes.write("X".repeat(text.length), at, "utf8");
  writeFileSync(file, bytes);
}

function keyStates(bridge: OpenedBridge): string[] {
  return (bridge.world?.key(SERIAL).state.borrows ?? []).map((record) => `${record.id}:${record.state}`);
}

describe("ledger damaged while borrows are out", () => {
  it("a truncated ledger is quarantined, rebuilt from the registry and the key with its tags, and every borrow returns without a dummy", async () => {
    const { dataDir, before } = await withBorrowsOut();
    const file = join(dataDir, LEDGER);
    truncateSync(file, Math.floor(statSync(file).size / 2) + 100);
    const { bridge } = await openAt(dataDir);
    expect(quarantined(dataDir)).toHaveLength(1);
    const status = await bridge.status();
    expect(status.ledger.rebuilt).toBe(true);
    expect(bridge.context.ledger.listAudit({ kind: "ledger-rebuilt", limit: 10 })).not.toEqual([]);
    expect(snapshot(bridge)).toEqual(before);
    expect(await seriousFindings(bridge)).toEqual([]);
    expect(await returnAll(bridge)).toEqual([]);
  });

  it("a ledger with a damaged page is quarantined and rebuilt the same way", async () => {
    const { dataDir, before } = await withBorrowsOut();
    const file = join(dataDir, LEDGER);
    const bytes = readFileSync(file);
    // Page 2 onwards holds the tables: a run of garbage there breaks SQLite's own structure checks.
    bytes.fill(0xa5, 4096 + 8, 4096 + 400);
    writeFileSync(file, bytes);
    const { bridge } = await openAt(dataDir);
    expect(quarantined(dataDir)).toHaveLength(1);
    expect(snapshot(bridge)).toEqual(before);
    expect(await returnAll(bridge)).toEqual([]);
  });

  it("a borrow row that fails its checksum is detected at start and rebuilt, not served", async () => {
    const { dataDir, before } = await withBorrowsOut();
    scribbleOver(join(dataDir, LEDGER), "laptop-03");
    const { bridge } = await openAt(dataDir);
    expect(quarantined(dataDir)).toHaveLength(1);
    expect(snapshot(bridge)).toEqual(before);
    expect((await bridge.borrows()).map((borrow) => borrow.client).sort()).toEqual(["laptop-03", "ws-01", "ws-02"]);
    expect(await returnAll(bridge)).toEqual([]);
  });

  it("a damaged ledger and a deleted registry: the salvaged secret still derives every tag", async () => {
    const { dataDir, before } = await withBorrowsOut();
    scribbleOver(join(dataDir, LEDGER), "laptop-03");
    rmSync(join(dataDir, "registry.ini"));
    const { bridge } = await openAt(dataDir);
    expect(quarantined(dataDir)).toHaveLength(1);
    expect(snapshot(bridge)).toEqual(before);
    expect(await seriousFindings(bridge)).toEqual([]);
    expect(await returnAll(bridge)).toEqual([]);
  });

  it("a deleted ledger with the registry intact: the borrows are adopted with the registry's tags, no dummy is made", async () => {
    const { dataDir, before } = await withBorrowsOut();
    removeLedger(dataDir);
    const { bridge } = await openAt(dataDir);
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
    expect(snapshot(bridge)).toEqual(before);
    expect(await returnAll(bridge)).toEqual([]);
  });

  it("ledger and registry both destroyed: no dummy is made at start and every borrow stays listed", async () => {
    const { dataDir } = await withBorrowsOut();
    removeLedger(dataDir);
    rmSync(join(dataDir, "registry.ini"));
    const { bridge } = await openAt(dataDir);
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
    expect((await bridge.borrows()).map((borrow) => borrow.state)).toEqual(["active", "active", "active"]);
    expect((await bridge.status()).dummies).toEqual([]);
  });

  // The tags were derived from a secret that is gone, so no copy can prove them to the key (K3).
  // What keybridge should do: say so (a finding above info) and refuse the return with a typed
  // error rather than send a tag it cannot vouch for. Today it sends a derived tag of its new
  // secret and the key makes a dummy. Expected to fail until that is fixed.
  it.fails("ledger and registry both destroyed: a return is refused rather than turned into a dummy", async () => {
    const { dataDir } = await withBorrowsOut();
    removeLedger(dataDir);
    rmSync(join(dataDir, "registry.ini"));
    const { bridge } = await openAt(dataDir);
    expect(await seriousFindings(bridge)).not.toEqual([]);
    await expect(bridge.returnBorrow(1)).rejects.toMatchObject({ code: expect.any(String) });
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
  });
});

import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { captureLogs, type LogCapture } from "../log-capture.js";
import { closeBridge, openAt, returnAll, SERIAL, seriousFindings, snapshot, withBorrowsOut } from "./helpers.js";

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

const QUARANTINED = "the ledger is corrupt; quarantining it and rebuilding from the key and the registry";
const ROW_FAILS = "ledger row checksum mismatch";
const TAGS_LOST = "borrow tags lost with the ledger and the registry";

/** The error lines the damage is reported with, in order: what an operator reads in the log. */
function errorsLogged(logs: LogCapture): string[] {
  return logs.lines.filter((line) => line.level === "error").map((line) => line.message);
}

function keyStates(bridge: OpenedBridge): string[] {
  return (bridge.testSeams.world?.key(SERIAL).state.borrows ?? []).map((record) => `${record.id}:${record.state}`);
}

describe("ledger damaged while borrows are out", () => {
  it("a truncated ledger is quarantined, rebuilt from the registry and the key with its tags, and every borrow returns without a dummy", async () => {
    const { dataDir, before } = await withBorrowsOut();
    const file = join(dataDir, LEDGER);
    truncateSync(file, Math.floor(statSync(file).size / 2) + 100);
    const logs = captureLogs();
    const { bridge } = await openAt(dataDir);
    expect(quarantined(dataDir)).toHaveLength(1);
    const status = await bridge.status();
    expect(status.ledger.rebuilt).toBe(true);
    expect(await bridge.audit({ kind: "ledger-rebuilt", limit: 10 })).not.toEqual([]);
    expect(snapshot(bridge)).toEqual(before);
    expect(await seriousFindings(bridge)).toEqual([]);
    expect(await returnAll(bridge)).toEqual([]);
    expect(errorsLogged(logs)).toEqual([QUARANTINED]);
  });

  it("a ledger with a damaged page is quarantined and rebuilt the same way", async () => {
    const { dataDir, before } = await withBorrowsOut();
    const file = join(dataDir, LEDGER);
    const bytes = readFileSync(file);
    // Page 2 onwards holds the tables: a run of garbage there breaks SQLite's own structure checks.
    bytes.fill(0xa5, 4096 + 8, 4096 + 400);
    writeFileSync(file, bytes);
    const logs = captureLogs();
    const { bridge } = await openAt(dataDir);
    expect(quarantined(dataDir)).toHaveLength(1);
    expect(snapshot(bridge)).toEqual(before);
    expect(await returnAll(bridge)).toEqual([]);
    expect(errorsLogged(logs)).toEqual([QUARANTINED]);
  });

  it("a borrow row that fails its checksum is detected at start and rebuilt, not served", async () => {
    const { dataDir, before } = await withBorrowsOut();
    scribbleOver(join(dataDir, LEDGER), "laptop-03");
    const logs = captureLogs();
    const { bridge } = await openAt(dataDir);
    expect(quarantined(dataDir)).toHaveLength(1);
    expect(snapshot(bridge)).toEqual(before);
    expect((await bridge.borrows()).map((borrow) => borrow.client).sort()).toEqual(["laptop-03", "ws-01", "ws-02"]);
    expect(await returnAll(bridge)).toEqual([]);
    expect(errorsLogged(logs)).toEqual([ROW_FAILS, QUARANTINED]);
  });

  it("a damaged ledger and a deleted registry: the salvaged secret still derives every tag", async () => {
    const { dataDir, before } = await withBorrowsOut();
    scribbleOver(join(dataDir, LEDGER), "laptop-03");
    rmSync(join(dataDir, "registry.ini"));
    const logs = captureLogs();
    const { bridge } = await openAt(dataDir);
    expect(quarantined(dataDir)).toHaveLength(1);
    expect(snapshot(bridge)).toEqual(before);
    expect(await seriousFindings(bridge)).toEqual([]);
    expect(await returnAll(bridge)).toEqual([]);
    expect(errorsLogged(logs)).toEqual([ROW_FAILS, QUARANTINED]);
  });

  it("a deleted ledger with the registry intact: the borrows are adopted with the registry's tags, no dummy is made", async () => {
    const { dataDir, before } = await withBorrowsOut();
    removeLedger(dataDir);
    const logs = captureLogs();
    const { bridge } = await openAt(dataDir);
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
    expect(snapshot(bridge)).toEqual(before);
    expect(await returnAll(bridge)).toEqual([]);
    expect(errorsLogged(logs)).toEqual([]);
  });

  it("ledger and registry both destroyed: no dummy is made at start and every borrow stays listed", async () => {
    const { dataDir } = await withBorrowsOut();
    removeLedger(dataDir);
    rmSync(join(dataDir, "registry.ini"));
    const logs = captureLogs();
    const { bridge } = await openAt(dataDir);
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
    expect((await bridge.borrows()).map((borrow) => borrow.state)).toEqual(["active", "active", "active"]);
    expect((await bridge.status()).dummies).toEqual([]);
    expect(errorsLogged(logs)).toEqual([TAGS_LOST]);
  });

  // The tags were derived from a secret that is gone, so no copy can prove them to the key (K3):
  // keybridge says so and refuses every SETTLE or REBIND rather than send a tag it cannot vouch for.
  it("ledger and registry both destroyed: a return is refused rather than turned into a dummy", async () => {
    const { dataDir } = await withBorrowsOut();
    removeLedger(dataDir);
    rmSync(join(dataDir, "registry.ini"));
    const logs = captureLogs();
    const { bridge } = await openAt(dataDir);
    const serious = await seriousFindings(bridge);
    expect(serious.filter((line) => line.startsWith("critical tag-unknown")).length).toBe(3);
    await expect(bridge.returnBorrow(1)).rejects.toMatchObject({
      code: "TAG_UNKNOWN",
      message: expect.stringMatching(/lost with the ledger and the registry.*dummy by itself at \d{4}-/s),
    });
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
    expect(bridge.risks().map((risk) => `${risk.kind} ${risk.severity}`)).toContain("tag-unknown critical");
    expect(errorsLogged(logs)).toEqual([TAGS_LOST]);
  });

  it("ledger and registry both destroyed: expiry and migrate leave the tagless borrows alone, and a restart keeps them marked", async () => {
    const { dataDir } = await withBorrowsOut();
    removeLedger(dataDir);
    rmSync(join(dataDir, "registry.ini"));
    const logs = captureLogs();
    let { bridge } = await openAt(dataDir);
    // Borrow 2 (10 days) is past its expiry, inside the key's settle window: a healthy one would be settled now.
    await bridge.virtual?.advanceClock(10 * 86_400_000 + 3_600_000);
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
    const repair = await bridge.repair();
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
    expect(repair.after.findings.some((f) => f.kind === "tag-unknown")).toBe(true);
    // The registry now holds the sentinel too, so a second loss of the ledger keeps the borrows marked.
    await bridge.testSeams.mirror.flush();
    await closeBridge(bridge);
    removeLedger(dataDir);
    ({ bridge } = await openAt(dataDir));
    await expect(bridge.returnBorrow(2)).rejects.toMatchObject({ code: "TAG_UNKNOWN" });
    await bridge.virtual?.setHost({ ip: "10.9.8.7" });
    const migration = await bridge.migrate();
    expect(migration.items.map((item) => item.outcome)).toEqual(["refused", "refused", "refused"]);
    expect(migration.items[0]?.message).toContain("TAG_UNKNOWN");
    expect(keyStates(bridge)).toEqual(["1:active", "2:active", "3:active"]);
    expect(errorsLogged(logs)).toEqual([TAGS_LOST, TAGS_LOST]);
  });
});

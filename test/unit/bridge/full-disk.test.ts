import { statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import Transport from "winston-transport";
import { rootLogger } from "../../../src/log.js";
import { fillLedger } from "./full-ledger.js";
import { closeBridge, demoKey, openVirtual, tempDataDir } from "./helpers.js";

/** Error lines logged while a test runs (the logger's level in tests is "error"). */
class Capture extends Transport {
  readonly lines: { level: string; message: string }[] = [];
  override log(info: { level: string; message: string }, next: () => void): void {
    this.lines.push({ level: info.level, message: info.message });
    next();
  }
}

let capture: Capture;
beforeEach(() => {
  capture = new Capture({ level: "error" });
  for (const transport of rootLogger.transports) transport.silent = true;
  rootLogger.add(capture);
});
afterEach(() => {
  rootLogger.remove(capture);
  for (const transport of rootLogger.transports) transport.silent = false;
});

const failures = () => capture.lines.filter((line) => line.message.startsWith("ledger writes fail")).length;

describe("a full disk", () => {
  it("a borrow answers LEDGER_DISK_FULL, its seat is given back on the key, and the bridge stays up", async () => {
    const bridge = await openVirtual({ hostPollMs: 50 });
    const kept = await bridge.borrow({ product: 1001, client: "before" });
    fillLedger(bridge.testSeams.ledger);
    // A write that fits in place succeeds: the ledger looks healthy, so the next borrow reaches the
    // key, which gives a seat before the disk refuses its record.
    bridge.testSeams.ledger.touchKey("KB-DEMO-0001", { lastSeen: Date.now() });
    expect(bridge.testSeams.ledger.healthy).toBe(true);
    const logged = failures();

    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(bridge.borrow({ product: 1003, client: `during-${attempt}` })).rejects.toMatchObject({
        code: "LEDGER_DISK_FULL",
      });
    }
    // Nobody holds a seat the ledger does not show: each one the key gave is taken back.
    await vi.waitFor(() => expect(demoKey(bridge).state.borrows.map((record) => record.client)).toEqual(["before"]));
    // Logged once for the episode, not once per refused borrow.
    expect(failures()).toBe(logged + 1);

    // The read-only service goes on: status, risks (with what to do), preflight.
    await vi.waitFor(() => expect(bridge.risks().map((risk) => risk.kind)).toContain("ledger-unwritable"));
    const risk = bridge.risks().find((candidate) => candidate.kind === "ledger-unwritable");
    expect(risk?.advice).toMatch(/Free space on the file system/);
    const status = await bridge.status();
    expect(status.ledger.healthy).toBe(false);
    expect(status.ledger.problem).toMatch(/cannot be written/);
    expect(status.borrows.map((view) => view.id)).toEqual([kept.id]);
    expect((await bridge.preflight("unplug-key")).safe).toBe(false);

    // Space comes back: the health check's probe write succeeds, the risk clears, borrowing works.
    bridge.testSeams.ledger.capSize(undefined);
    await vi.waitFor(() => expect(bridge.risks().map((r) => r.kind)).not.toContain("ledger-unwritable"));
    expect((await bridge.status()).ledger).toMatchObject({ healthy: true });
    expect(capture.lines.some((line) => line.level === "error" && line.message.includes("unhandled"))).toBe(false);
    await bridge.borrow({ product: 1003, client: "after" });
  });

  it("the bridge opens on a full disk and serves status, risks and preflight", async () => {
    const dataDir = tempDataDir();
    const first = await openVirtual({ dataDir });
    const held = await first.borrow({ product: 1001, client: "held" });
    fillLedger(first.testSeams.ledger);
    await closeBridge(first);
    const size = statSync(join(dataDir, "ledger.db")).size;
    expect(size % 4096).toBe(0);

    const bridge = await openVirtual({ dataDir, hostPollMs: 50 }, { ledgerMaxSizeBytes: size });
    const status = await bridge.status();
    expect(status.keys.find((key) => key.serial === "KB-DEMO-0001")?.present).toBe(true);
    expect(status.borrows.map((view) => view.id)).toEqual([held.id]);
    expect((await bridge.preflight("unplug-key")).safe).toBe(false);
    await expect(bridge.borrow({ product: 1003, client: "refused" })).rejects.toMatchObject({
      code: "LEDGER_DISK_FULL",
    });
    await vi.waitFor(() => expect(bridge.risks().map((risk) => risk.kind)).toContain("ledger-unwritable"));
  });
});

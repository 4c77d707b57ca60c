import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openVirtual, tempDataDir } from "./helpers.js";

describe("openBridge in virtual mode", () => {
  it("borrows, lists and returns", async () => {
    const bridge = await openVirtual();
    const keys = await bridge.keys();
    expect(keys.map((k) => k.serial)).toEqual(["KB-DEMO-0001"]);
    const borrow = await bridge.borrow({ product: 1001, client: "ws-01" });
    expect(borrow.state).toBe("active");
    expect((await bridge.borrows()).map((b) => b.id)).toEqual([borrow.id]);
    const status = await bridge.status();
    expect(status.borrows).toHaveLength(1);
    expect((await bridge.reconcile()).findings).toEqual([]);
    const result = await bridge.returnBorrow(borrow.id);
    expect(result.outcome).toBe("returned");
    expect(await bridge.borrows()).toEqual([]);
  });

  it("status says when the ledger was last exported (the backup that holds every tag)", async () => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir });
    expect((await bridge.status()).ledger.lastExportAt).toBeNull();
    const before = Date.now();
    await bridge.exportLedger(join(dataDir, "backup.export"));
    const exportedAt = (await bridge.status()).ledger.lastExportAt;
    expect(Date.parse(exportedAt ?? "")).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(exportedAt ?? "")).toBeLessThanOrEqual(Date.now());
  });
});

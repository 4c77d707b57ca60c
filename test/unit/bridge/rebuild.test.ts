import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { BridgeEvent } from "../../../src/bridge/api.js";
import { captureLogs } from "../log-capture.js";
import { closeBridge, demoKey, openVirtual, tempDataDir } from "./helpers.js";

describe("corrupt ledger", () => {
  it("is quarantined and rebuilt from the registry and the key, with tags intact and no dummy", async () => {
    const dataDir = tempDataDir();
    let bridge = await openVirtual({ dataDir });
    const a = await bridge.borrow({ product: 1001, client: "a" });
    const b = await bridge.borrow({ product: 1003, client: "b" });
    const tags = [a, b].map((x) => bridge.testSeams.ledger.getBorrow(x.serial, x.id)?.tag);
    await closeBridge(bridge);

    // Damage the SQLite header: the ledger cannot be opened any more.
    const file = join(dataDir, "ledger.db");
    const bytes = readFileSync(file);
    randomBytes(64).copy(bytes, 0);
    writeFileSync(file, bytes);

    const logs = captureLogs();
    bridge = await openVirtual({ dataDir });
    const status = await bridge.status();
    expect(status.ledger.rebuilt).toBe(true);
    expect(logs.matching("error", /^the ledger is corrupt; quarantining it and rebuilding/)).toHaveLength(1);
    expect(status.borrows.map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
    expect([a, b].map((x) => bridge.testSeams.ledger.getBorrow(x.serial, x.id)?.tag)).toEqual(tags);
    expect((await bridge.audit({ limit: 10, kind: "ledger-rebuilt" })).length).toBeGreaterThan(0);
    expect((await bridge.reconcile()).findings).toEqual([]);

    await bridge.returnBorrow(a.id);
    await bridge.returnBorrow(b.id);
    expect(demoKey(bridge).state.borrows).toEqual([]);
    expect((await bridge.status()).dummies).toEqual([]);
  });
});

describe("counterfeit key", () => {
  it("is refused, audited and announced; the genuine key's borrows stay safe", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1001, client: "a" });
    const events: BridgeEvent[] = [];
    bridge.events$.subscribe((event) => events.push(event));
    const world = bridge.testSeams.world;
    if (world === undefined) throw new Error("not virtual");
    // Another key claiming the same serial, with its own key pair.
    const logs = captureLogs();
    world.bus.remove("KB-DEMO-0001");
    await bridge.testSeams.keys.rescan();
    world.bus.createKey({
      serial: "KB-DEMO-0001",
      licenses: [{ product: 1001, seats: 9, borrowable: 9, borrowDays: 30 }],
    });
    await bridge.testSeams.keys.rescan();

    expect(events.map((event) => event.type)).toContain("key.counterfeit");
    expect(logs.matching("error", /^counterfeit key refused$/)).toMatchObject([{ serial: "KB-DEMO-0001" }]);
    expect(await bridge.audit({ limit: 5, kind: "counterfeit-key" })).toHaveLength(1);
    expect((await bridge.keys()).find((k) => k.serial === "KB-DEMO-0001")?.present).toBe(false);
    await expect(bridge.borrow({ product: 1001, client: "b" })).rejects.toMatchObject({ code: "KEY_ABSENT" });
    expect((await bridge.getBorrow(borrow.id, { serial: "KB-DEMO-0001" })).state).toBe("active");
  });
});

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { BridgeEvent } from "../../../src/bridge/api.js";
import { openLedger } from "../../../src/ledger/index.js";
import { BORROWS_PATH, IniRegistry, type RegistryAdapter, type RegistryOp } from "../../../src/registry/index.js";
import { openVirtual, tempDataDir } from "./helpers.js";

/** Counts the batches that reach the store. */
function countingRegistry(counter: { batches: number }) {
  return (inner: RegistryAdapter): RegistryAdapter =>
    new Proxy(inner, {
      get(target, property, receiver) {
        if (property === "applyBatch") {
          return (ops: readonly RegistryOp[]) => {
            counter.batches++;
            return target.applyBatch(ops);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
}

async function registryIds(registry: RegistryAdapter, serial: string): Promise<number[]> {
  const tree = await registry.readTree(`${BORROWS_PATH}\\${serial}`);
  return Object.keys(tree?.subkeys ?? {})
    .map(Number)
    .sort((a, b) => a - b);
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("condition not reached");
}

describe("registry mirror", () => {
  it("follows the ledger by itself within the lag", async () => {
    const bridge = await openVirtual({ mirrorLagMs: 40 });
    const borrow = await bridge.borrow({ product: 1001, client: "ws" });
    await until(async () => (await registryIds(bridge.testSeams.registry, borrow.serial)).includes(borrow.id));
    await bridge.returnBorrow(borrow.id);
    await until(async () => (await registryIds(bridge.testSeams.registry, borrow.serial)).length === 0);
  });

  it("writes a storm of 100 concurrent borrows in a few batches", async () => {
    const counter = { batches: 0 };
    const bridge = await openVirtual(
      { mirrorLagMs: 200, queueLimit: 128 },
      { wrapRegistry: countingRegistry(counter) },
    );
    await bridge.virtual?.create({
      serial: "KB-STORM",
      licenses: [{ product: 9, seats: 200, borrowable: 150, borrowDays: 30 }],
    });
    const before = counter.batches;
    const borrows = await Promise.all(
      Array.from({ length: 100 }, (_, i) => bridge.borrow({ product: 9, client: `c${i}`, serial: "KB-STORM" })),
    );
    await bridge.testSeams.mirror.flush();
    expect(counter.batches - before).toBeLessThanOrEqual(5);
    expect(await registryIds(bridge.testSeams.registry, "KB-STORM")).toEqual(
      borrows.map((b) => b.id).sort((a, b) => a - b),
    );
  });

  it("restores wiped entries at the drift check and says so", async () => {
    const bridge = await openVirtual();
    const events: BridgeEvent[] = [];
    bridge.events$.subscribe((event) => events.push(event));
    const a = await bridge.borrow({ product: 1001, client: "a" });
    const b = await bridge.borrow({ product: 1003, client: "b" });
    await bridge.testSeams.mirror.flush();
    await bridge.virtual?.wipeRegistry();
    expect(await registryIds(bridge.testSeams.registry, a.serial)).toEqual([]);
    expect((await bridge.reconcile()).counts["registry-missing"]).toBe(2);
    const report = await bridge.testSeams.mirror.checkDrift();
    expect(report).toMatchObject({ missing: 2, extra: 0 });
    expect(await registryIds(bridge.testSeams.registry, a.serial)).toEqual([a.id, b.id]);
    expect(events.map((event) => event.type)).toContain("registry.repaired");
    expect((await bridge.reconcile()).findings).toEqual([]);
    expect(await bridge.audit({ limit: 5, kind: "repair" })).toHaveLength(1);
  });

  it("removes extra entries and rewrites changed ones", async () => {
    const bridge = await openVirtual();
    const a = await bridge.borrow({ product: 1001, client: "a" });
    await bridge.testSeams.mirror.flush();
    await bridge.testSeams.registry.applyBatch([
      {
        op: "set",
        path: `${BORROWS_PATH}\\${a.serial}\\${a.id}`,
        name: "Client",
        value: { type: "string", value: "x" },
      },
      { op: "createKey", path: `${BORROWS_PATH}\\${a.serial}\\77` },
    ]);
    const report = await bridge.testSeams.mirror.checkDrift();
    expect(report).toMatchObject({ missing: 0, changed: 2 });
    const entry = await bridge.testSeams.registry.readTree(`${BORROWS_PATH}\\${a.serial}\\${a.id}`);
    expect(entry?.values.Client).toEqual({ type: "string", value: "a" });
    expect(await registryIds(bridge.testSeams.registry, a.serial)).toEqual([a.id]);
  });

  it("rewrites a corrupt registry file from the ledger", async () => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir });
    const a = await bridge.borrow({ product: 1001, client: "a" });
    await bridge.testSeams.mirror.flush();
    const file = join(dataDir, "registry.ini");
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.replace("Client", "Clyent"));
    const report = await bridge.testSeams.mirror.checkDrift();
    expect(report.replaced).toBe(true);
    expect(await registryIds(bridge.testSeams.registry, a.serial)).toEqual([a.id]);
    expect((await bridge.reconcile()).findings).toEqual([]);
  });

  it("a loss the drift repair restores in the same step is never published as the registry's health", async () => {
    const bridge = await openVirtual();
    await bridge.borrow({ product: 1001, client: "a" });
    await bridge.testSeams.mirror.flush();
    await bridge.virtual?.wipeRegistry();
    const seen: string[] = [];
    const subscription = bridge.testSeams.mirror.health$.subscribe((report) => seen.push(report.health));

    const report = await bridge.testSeams.mirror.checkDrift();

    subscription.unsubscribe();
    expect(report.missing).toBe(1);
    expect(seen).toEqual(["healthy"]);
    expect(bridge.risks().map((risk) => risk.kind)).not.toContain("registry-lost");
    expect((await bridge.testSeams.mirror.read()).entries).toHaveLength(1);
  });

  it("sees an external edit at once, and never reads a damaged file as entries", async () => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir });
    const a = await bridge.borrow({ product: 1001, client: "a" });
    await bridge.testSeams.mirror.flush();
    const first = await bridge.testSeams.mirror.read();
    expect(first.entries.map((entry) => entry.borrow.client)).toEqual(["a"]);

    // Another writer (or an admin's edit through the adapter) changes the file: the next read sees it.
    const other = new IniRegistry({ path: join(dataDir, "registry.ini") });
    await other.set(`${BORROWS_PATH}\\${a.serial}\\${a.id}`, "Client", { type: "string", value: "edited" });
    await other.close();
    const second = await bridge.testSeams.mirror.read();
    expect(second.entries.map((entry) => entry.borrow.client)).toEqual(["edited"]);

    // A damaged file is reported unreadable, not read as whatever it holds.
    const file = join(dataDir, "registry.ini");
    writeFileSync(file, readFileSync(file, "utf8").replace("edited", "edytet"));
    expect((await bridge.testSeams.mirror.read()).view.readable).toBe(false);
  });

  it("restores a lost registry of many borrows in several atomic batches, under a serial key left empty", async () => {
    const dataDir = tempDataDir();
    const ledger = openLedger({ dir: dataDir });
    const count = 25_000;
    ledger.transaction((tx) => {
      for (let i = 0; i < count; i++) {
        tx.insertBorrow({
          serial: "KB-AWAY",
          id: i + 1,
          opId: (0xa0000000 + i).toString(16).padStart(32, "0"),
          product: 1001,
          client: `ws-${i % 50}`,
          issuedAt: Date.now() - 86_400_000,
          expiresAt: Date.now() + 20 * 86_400_000,
          binding: "07".repeat(32),
          tag: (i + 1).toString(16).padStart(32, "0"),
          state: "active",
        });
      }
    });
    ledger.close();
    // The registry lost every entry but kept the (now empty) serial key.
    const registry = new IniRegistry({ path: join(dataDir, "registry.ini") });
    await registry.createKey(`${BORROWS_PATH}\\KB-AWAY`);
    await registry.close();

    const counter = { batches: 0 };
    const bridge = await openVirtual({ dataDir }, { wrapRegistry: countingRegistry(counter) });
    expect(counter.batches).toBeGreaterThanOrEqual(2);
    expect(await registryIds(bridge.testSeams.registry, "KB-AWAY")).toHaveLength(count);
    const read = await bridge.testSeams.mirror.read();
    expect(read.entries).toHaveLength(count);
    expect((await bridge.testSeams.mirror.checkDrift()).missing).toBe(0);
  }, 60_000);
});

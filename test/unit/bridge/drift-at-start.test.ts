import { describe, expect, it } from "vitest";
import {
  BORROWS_PATH,
  type RegistryAdapter,
  type RegistryKeyListing,
  type RegistryTree,
} from "../../../src/registry/index.js";
import { closeBridge, openVirtual, tempDataDir } from "./helpers.js";

/** Holds every registry read until `release()`; counts them. */
function gatedRegistry() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const reads = { count: 0 };
  const wrap = (inner: RegistryAdapter): RegistryAdapter =>
    new Proxy(inner, {
      get(target, property, receiver) {
        if (property === "readTree") {
          return async (path: string): Promise<RegistryTree | undefined> => {
            reads.count++;
            await gate;
            return target.readTree(path);
          };
        }
        if (property === "readKeys" && target.readKeys !== undefined) {
          const readKeys = target.readKeys.bind(target);
          return async function* (path: string): AsyncIterable<RegistryKeyListing[]> {
            reads.count++;
            await gate;
            yield* readKeys(path);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return { wrap, release, reads };
}

/** A data dir whose registry lost the entries of two outstanding borrows. */
async function wipedRegistryDir(): Promise<{ dataDir: string; ids: number[] }> {
  const dataDir = tempDataDir();
  const bridge = await openVirtual({ dataDir });
  const a = await bridge.borrow({ product: 1001, client: "a" });
  const b = await bridge.borrow({ product: 1003, client: "b" });
  await bridge.testSeams.mirror.flush();
  await bridge.virtual?.wipeRegistry();
  await closeBridge(bridge);
  return { dataDir, ids: [a.id, b.id].sort((x, y) => x - y) };
}

async function registryIds(registry: RegistryAdapter): Promise<number[]> {
  const tree = await registry.readTree(`${BORROWS_PATH}\\KB-DEMO-0001`);
  return Object.keys(tree?.subkeys ?? {})
    .map(Number)
    .sort((x, y) => x - y);
}

describe("the registry's first drift check at start", () => {
  it("is awaited by default: the registry is repaired when openBridge resolves", async () => {
    const { dataDir, ids } = await wipedRegistryDir();
    const bridge = await openVirtual({ dataDir });
    expect(await registryIds(bridge.testSeams.registry)).toEqual(ids);
  });

  it("in the background (the daemon), starts at once, and reads through the mirror wait for it", async () => {
    const { dataDir, ids } = await wipedRegistryDir();
    const registry = gatedRegistry();
    const bridge = await openVirtual({ dataDir }, { driftCheckInBackground: true, wrapRegistry: registry.wrap });
    // The check has started (it is reading the registry) but has not finished: the bridge already serves.
    expect(registry.reads.count).toBe(1);
    const early = await bridge.status();
    expect(early.borrows.map((view) => view.id).sort((x, y) => x - y)).toEqual(ids);
    // Status says the registry's health is not known yet rather than calling it healthy.
    expect(early.registry.lastDriftCheck).toBeNull();

    const reading = bridge.testSeams.mirror.read();
    const reconciling = bridge.reconcile();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(registry.reads.count).toBe(1);
    registry.release();
    // Both read the registry only after the check had restored the two entries.
    expect((await reading).entries.map((entry) => entry.borrow.id).sort((x, y) => x - y)).toEqual(ids);
    expect((await reconciling).counts["registry-missing"] ?? 0).toBe(0);
    const checked = (await bridge.status()).registry;
    expect(checked.healthy).toBe(true);
    expect(Date.parse(checked.lastDriftCheck ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(await registryIds(bridge.testSeams.registry)).toEqual(ids);
  });
});

import { randomBytes } from "node:crypto";
import { firstValueFrom } from "rxjs";
import { describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { BORROWS_PATH, type RegistryAdapter } from "../../../src/registry/index.js";
import { captureLogs } from "../log-capture.js";
import { openVirtual } from "./helpers.js";

async function registryIds(registry: RegistryAdapter, serial: string): Promise<number[]> {
  const tree = await registry.readTree(`${BORROWS_PATH}\\${serial}`);
  return Object.keys(tree?.subkeys ?? {})
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * A borrow whose client name holds a NUL, as a ledger written before names were checked at the
 * edge may hold: recorded in the ledger and the index, marked for the registry copy.
 */
function recordUncheckedBorrow(bridge: OpenedBridge, template: { serial: string; id: number }, client: string) {
  const { ledger, index, mirror } = bridge.testSeams;
  const model = ledger.getBorrow(template.serial, template.id);
  if (model === undefined) throw new Error("template borrow missing");
  const opId = randomBytes(16).toString("hex");
  const row = ledger.insertBorrow({
    ...model,
    id: 9_000,
    opId,
    client,
    tag: ledger.deriveTag(opId).toString("hex"),
    state: "active",
  });
  index.load(ledger.listOutstanding());
  mirror.markDirty(row.serial, row.id);
  return row;
}

describe("one entry the registry cannot store does not stop the others", () => {
  it("a client name with a NUL is set aside and reported; every other borrow is copied, drift repair and repair work", async () => {
    const logs = captureLogs();
    const bridge = await openVirtual({ mirrorLagMs: 60_000 });
    const a = await bridge.borrow({ product: 1001, client: "ws-a" });
    const bad = recordUncheckedBorrow(bridge, a, "ws\u0000evil");
    const b = await bridge.borrow({ product: 1001, client: "ws-b" });
    await bridge.testSeams.mirror.flush();

    expect(await registryIds(bridge.testSeams.registry, a.serial)).toEqual([a.id, b.id]);
    const status = await bridge.status();
    expect(status.registry.healthy).toBe(true);
    expect(status.registry.refused).toEqual([{ serial: bad.serial, id: bad.id, reason: expect.stringMatching(/NUL/) }]);
    // Logged once, however often the entry comes up again.
    const reported = () => logs.matching("error", /^the registry cannot store this borrow's entry/);
    expect(reported()).toMatchObject([{ serial: bad.serial, id: bad.id }]);

    // Later borrows are copied too: the bad entry is not offered again.
    const c = await bridge.borrow({ product: 1001, client: "ws-c" });
    await bridge.testSeams.mirror.flush();
    expect(await registryIds(bridge.testSeams.registry, a.serial)).toEqual([a.id, b.id, c.id]);

    // A lost registry is restored at the drift check, all but the refused entry.
    await bridge.virtual?.wipeRegistry();
    const report = await bridge.testSeams.mirror.checkDrift();
    expect(report.missing).toBe(3);
    expect(await registryIds(bridge.testSeams.registry, a.serial)).toEqual([a.id, b.id, c.id]);

    // Repair (a full rewrite from the ledger) works and keeps the others.
    await expect(bridge.repair()).resolves.toBeDefined();
    await bridge.testSeams.mirror.restoreAll("test");
    expect(await registryIds(bridge.testSeams.registry, a.serial)).toEqual([a.id, b.id, c.id]);

    // The registry's health does not count the refused entry as a loss.
    await bridge.testSeams.mirror.checkDrift();
    expect(await firstValueFrom(bridge.testSeams.mirror.health$)).toEqual({ health: "healthy" });
    expect(reported()).toHaveLength(1);
  });
});

describe("client names are checked at the library's edge", () => {
  it.each([
    ["ws\u0000evil", "U+0000 (NUL) at position 3"],
    ["\u001b[2Jws", "U+001B (ESC) at position 1"],
    ["ws-07\r\n3  KB  1001  forged", "U+000D (CR) at position 6"],
    ["ws\u202eevil", "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 3"],
    ["ws\ud800", "U+D800 (unpaired surrogate) at position 3"],
  ])("%j is refused with VALIDATION naming the character and where", async (client, where) => {
    const bridge = await openVirtual();
    const refused = bridge.borrow({ product: 1001, client });
    await expect(refused).rejects.toMatchObject({
      code: "VALIDATION",
      details: { field: "client" },
      message: expect.stringContaining(`client holds ${where}`),
    });
    expect(await bridge.borrows()).toEqual([]);
  });

  it("names with spaces, accents and emoji still borrow", async () => {
    const bridge = await openVirtual();
    for (const client of ["ws 07", "Zoë's laptop", "büro-pc", "🖥️ lab"]) {
      await expect(bridge.borrow({ product: 1001, client })).resolves.toMatchObject({ client });
    }
  });
});

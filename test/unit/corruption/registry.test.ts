import { cpSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { openAt, returnAll, type Snapshot, seriousFindings, snapshot, tempDataDir, withBorrowsOut } from "./helpers.js";

const REGISTRY = "registry.ini";

/** What the registry holds now: `id -> tag` of each parsable entry. */
async function registryTags(bridge: OpenedBridge): Promise<Record<number, string>> {
  const { entries } = await bridge.testSeams.mirror.read();
  return Object.fromEntries(entries.map((entry) => [entry.borrow.id, entry.borrow.tag]));
}

async function repairAudits(bridge: OpenedBridge): Promise<string[]> {
  return (await bridge.audit({ kind: "repair", limit: 20 }))
    .map((entry) => entry.message)
    .filter((message) => message.includes("registry"));
}

/** After a restart on a damaged registry: repaired from the ledger, said so, and nothing else changed. */
async function expectRepairedFromLedger(bridge: OpenedBridge, before: Snapshot): Promise<void> {
  expect(snapshot(bridge)).toEqual(before);
  expect(await registryTags(bridge)).toEqual(before.tags);
  expect(await seriousFindings(bridge)).toEqual([]);
  expect(await returnAll(bridge)).toEqual([]);
}

describe("registry damaged while borrows are out", () => {
  it("a truncated registry file is detected and rewritten from the ledger at start", async () => {
    const { dataDir, before } = await withBorrowsOut();
    const file = join(dataDir, REGISTRY);
    truncateSync(file, Math.floor(statSync(file).size * 0.4));
    const { bridge } = await openAt(dataDir);
    expect(await repairAudits(bridge)).not.toEqual([]);
    await expectRepairedFromLedger(bridge, before);
  });

  it("a deleted registry file is detected and rewritten from the ledger at start", async () => {
    const { dataDir, before } = await withBorrowsOut();
    rmSync(join(dataDir, REGISTRY));
    const { bridge } = await openAt(dataDir);
    expect((await repairAudits(bridge)).join("\n")).toMatch(/3 missing/);
    await expectRepairedFromLedger(bridge, before);
  });

  it("a flipped bit anywhere in the registry file is repaired or harmless, never accepted as different data", async () => {
    const { dataDir: pristine, before } = await withBorrowsOut();
    const size = statSync(join(pristine, REGISTRY)).size;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: size - 1 }), fc.integer({ min: 0, max: 7 }), async (offset, bit) => {
        const dataDir = tempDataDir();
        cpSync(pristine, dataDir, { recursive: true });
        const file = join(dataDir, REGISTRY);
        const bytes = readFileSync(file);
        bytes[offset] = (bytes[offset] as number) ^ (1 << bit);
        writeFileSync(file, bytes);
        const { bridge } = await openAt(dataDir);
        try {
          await expectRepairedFromLedger(bridge, before);
        } finally {
          await bridge.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  it("garbage written over the registry while the bridge runs is reported by reconcile and fixed by repair", async () => {
    const { dataDir, before } = await withBorrowsOut();
    const { bridge } = await openAt(dataDir);
    writeFileSync(join(dataDir, REGISTRY), "[Software\\keybridge\n\u0000\u0001 not an ini file ===\n");
    const findings = await seriousFindings(bridge);
    expect(findings.join("\n")).toMatch(/registry/i);
    await bridge.repair();
    expect(await registryTags(bridge)).toEqual(before.tags);
    expect(await seriousFindings(bridge)).toEqual([]);
    expect(await returnAll(bridge)).toEqual([]);
  });
});

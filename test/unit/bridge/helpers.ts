import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import type { BridgeOptions } from "../../../src/bridge/api.js";
import { type BridgeInternals, type OpenedBridge, openBridge } from "../../../src/bridge/open.js";

const dirs: string[] = [];
const bridges: OpenedBridge[] = [];

afterEach(async () => {
  for (const bridge of bridges.splice(0)) await bridge.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keybridge-bridge-"));
  dirs.push(dir);
  return dir;
}

/** A virtual bridge in a temp data dir, closed after the test. */
export async function openVirtual(
  options: Partial<BridgeOptions> = {},
  internals: BridgeInternals = {},
): Promise<OpenedBridge> {
  const bridge = await openBridge(
    {
      dataDir: options.dataDir ?? tempDataDir(),
      mode: "virtual",
      hostPollMs: 60_000,
      clockCheckMs: 60_000,
      ...options,
    },
    { hotplugDebounceMs: 5, ...internals },
  );
  bridges.push(bridge);
  return bridge;
}

/** Closes a bridge opened with openVirtual before the test ends (e.g. to reopen its data dir). */
export async function closeBridge(bridge: OpenedBridge): Promise<void> {
  const at = bridges.indexOf(bridge);
  if (at >= 0) bridges.splice(at, 1);
  await bridge.close();
}

export function demoKey(bridge: OpenedBridge) {
  const world = bridge.testSeams.world;
  if (world === undefined) throw new Error("not virtual");
  return world.key("KB-DEMO-0001");
}

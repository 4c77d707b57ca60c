import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filter, firstValueFrom, timeout } from "rxjs";
import { afterEach } from "vitest";
import type { BridgeEvent, BridgeOptions, RiskKind } from "../../../src/bridge/api.js";
import { type BridgeInternals, type OpenedBridge, openBridge } from "../../../src/bridge/open.js";

export const SERIAL = "KB-DEMO-0001";
export const DAY_MS = 86_400_000;

const dirs: string[] = [];
const bridges: OpenedBridge[] = [];

afterEach(async () => {
  for (const bridge of bridges.splice(0)) await bridge.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keybridge-guard-"));
  dirs.push(dir);
  return dir;
}

/** A virtual bridge (demo key plugged) with the guard's risk engine, closed after the test. */
export async function openGuarded(
  options: Partial<BridgeOptions> = {},
  internals: BridgeInternals = {},
): Promise<OpenedBridge> {
  const bridge = await openBridge(
    {
      dataDir: options.dataDir ?? tempDir(),
      mode: "virtual",
      hostPollMs: 50,
      clockCheckMs: 60_000,
      driftCheckMs: 3_600_000,
      mirrorLagMs: 20,
      ...options,
    },
    { hotplugDebounceMs: 5, ...internals },
  );
  bridges.push(bridge);
  return bridge;
}

export async function closeGuarded(bridge: OpenedBridge): Promise<void> {
  const at = bridges.indexOf(bridge);
  if (at >= 0) bridges.splice(at, 1);
  await bridge.close();
}

/** Resolves with the next event matching `match` (rejects after `ms`, so a missing event fails the test). */
export function nextEvent(
  bridge: OpenedBridge,
  match: (event: BridgeEvent) => boolean,
  ms = 5000,
): Promise<BridgeEvent> {
  return firstValueFrom(bridge.events$.pipe(filter(match), timeout(ms)));
}

export function riskRaised(bridge: OpenedBridge, kind: RiskKind, ms?: number): Promise<BridgeEvent> {
  return nextEvent(bridge, (e) => e.type === "risk.raised" && e.risk?.kind === kind, ms);
}

export function riskCleared(bridge: OpenedBridge, kind: RiskKind, ms?: number): Promise<BridgeEvent> {
  return nextEvent(bridge, (e) => e.type === "risk.cleared" && e.risk?.kind === kind, ms);
}

export function riskKinds(bridge: OpenedBridge): RiskKind[] {
  return bridge
    .risks()
    .map((risk) => risk.kind)
    .sort();
}

export function world(bridge: OpenedBridge) {
  if (bridge.testSeams.world === undefined) throw new Error("not a virtual bridge");
  return bridge.testSeams.world;
}

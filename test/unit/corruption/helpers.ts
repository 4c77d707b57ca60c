import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import type { BridgeEvent } from "../../../src/bridge/api.js";
import { type OpenedBridge, openBridge } from "../../../src/bridge/open.js";

export const SERIAL = "KB-DEMO-0001";

const dirs: string[] = [];
const open: OpenedBridge[] = [];

afterEach(async () => {
  for (const bridge of open.splice(0)) await bridge.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keybridge-corruption-"));
  dirs.push(dir);
  return dir;
}

/** A virtual bridge; `events` collects what it emitted from the first moment on. */
export async function openAt(dataDir: string): Promise<{ bridge: OpenedBridge; events: BridgeEvent[] }> {
  const bridge = await openBridge(
    { dataDir, mode: "virtual", hostPollMs: 60_000, clockCheckMs: 60_000, driftCheckMs: 60_000, mirrorLagMs: 10 },
    { hotplugDebounceMs: 5, expiryCheckMs: 60_000 },
  );
  open.push(bridge);
  const events: BridgeEvent[] = [];
  bridge.events$.subscribe((event) => events.push(event));
  return { bridge, events };
}

export async function closeBridge(bridge: OpenedBridge): Promise<void> {
  const at = open.indexOf(bridge);
  if (at >= 0) open.splice(at, 1);
  await bridge.close();
}

export interface Snapshot {
  /** `id -> tag` of every outstanding ledger row. */
  tags: Record<number, string>;
  ids: number[];
}

/** Opens a fresh data dir, borrows three licenses, flushes the mirror and closes: the state to damage. */
export async function withBorrowsOut(): Promise<{ dataDir: string; before: Snapshot }> {
  const dataDir = tempDataDir();
  const { bridge } = await openAt(dataDir);
  await bridge.borrow({ product: 1001, client: "ws-01" });
  await bridge.borrow({ product: 1003, client: "ws-02", days: 10 });
  await bridge.borrow({ product: 1002, client: "laptop-03" });
  await bridge.testSeams.mirror.flush();
  const before = snapshot(bridge);
  await closeBridge(bridge);
  return { dataDir, before };
}

export function snapshot(bridge: OpenedBridge): Snapshot {
  const rows = bridge.testSeams.ledger.listOutstanding();
  return {
    tags: Object.fromEntries(rows.map((row) => [row.id, row.tag])),
    ids: rows.map((row) => row.id),
  };
}

/** Findings above `info`: a healthy bridge has none. */
export async function seriousFindings(bridge: OpenedBridge): Promise<string[]> {
  await bridge.testSeams.mirror.flush();
  const report = await bridge.reconcile();
  return report.findings.filter((f) => f.severity !== "info").map((f) => `${f.severity} ${f.kind}: ${f.message}`);
}

/** Returns every outstanding borrow; resolves the key's records left afterwards (none when all went well). */
export async function returnAll(bridge: OpenedBridge): Promise<{ state: string; id: number }[]> {
  for (const borrow of await bridge.borrows()) {
    if (borrow.state !== "dummy") await bridge.returnBorrow(borrow.id);
  }
  const key = bridge.testSeams.world?.key(SERIAL);
  return (key?.state.borrows ?? []).map((record) => ({ id: record.id, state: record.state }));
}

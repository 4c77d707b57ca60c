import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtualBus } from "../../../native-mocks/index.js";
import type { Bridge, LicenseInput } from "../../../src/bridge/api.js";
import { type OpenedBridge, openBridge } from "../../../src/bridge/open.js";
import { createServer, type KeybridgeServer } from "../../../src/server/app.js";

export const TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv";

/** The key the server and CLI tests start with: two products, small enough to run out of seats. */
export const TEST_LICENSES: LicenseInput[] = [
  { product: 1001, seats: 10, borrowable: 4, borrowDays: 30 },
  { product: 1002, seats: 5, borrowable: 2, borrowDays: 14 },
];

export interface HarnessOptions {
  /** The virtual keys the data directory starts with. Default: KB-0001 with TEST_LICENSES. */
  keys?: { serial: string; licenses: LicenseInput[] }[];
  /** SSE heartbeat interval. Default 15 000 ms. */
  heartbeatMs?: number;
  /** Time each report of a virtual key spends on the wire. Default 0. */
  latencyMs?: number;
  /**
   * The bridge the server is given, made from the virtual one: for the one case in a test that
   * the virtual bridge cannot produce by itself (an internal failure, real mode). Default: itself.
   */
  serve?: (bridge: OpenedBridge) => Bridge;
}

export interface Harness {
  /** The virtual bridge behind the server (the test drives and inspects it as a library user would). */
  bridge: OpenedBridge;
  /** The bridge's data directory. */
  bridgeDir: string;
  server: KeybridgeServer;
  url: string;
  api(path: string, init?: RequestInit & { json?: unknown; token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Writes the virtual keys into a fresh data directory before the bridge opens it, as virtual mode
 * keeps them (`<dataDir>/virtual/<serial>.key.json`): the bridge then loads these keys instead of
 * creating its demo key, and provisions them with the directory's demo vendor on load.
 */
export function seedVirtualKeys(dataDir: string, keys: readonly { serial: string; licenses: LicenseInput[] }[]): void {
  const dir = join(dataDir, "virtual");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bus = new VirtualBus();
  for (const key of keys) {
    bus.createKey({ serial: key.serial, licenses: key.licenses, stateFile: join(dir, `${key.serial}.key.json`) });
  }
  bus.close();
}

/** A virtual bridge over a fresh data directory holding `keys`. The caller closes it and removes the directory. */
export async function openTestBridge(
  options: Pick<HarnessOptions, "keys" | "latencyMs"> = {},
): Promise<{ bridge: OpenedBridge; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "kb-server-"));
  try {
    seedVirtualKeys(dataDir, options.keys ?? [{ serial: "KB-0001", licenses: TEST_LICENSES }]);
    const bridge = await openBridge(
      {
        dataDir,
        mode: "virtual",
        hostPollMs: 60_000,
        clockCheckMs: 60_000,
        virtualLatencyMs: options.latencyMs ?? 0,
      },
      { hotplugDebounceMs: 5 },
    );
    return { bridge, dataDir };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * `bridge` with some members replaced, everything else its own: the small stub a test uses for a
 * failure the virtual bridge cannot produce (a 500, a full queue) or a mode it is not in.
 */
export function overriding(bridge: Bridge, replaced: Partial<Record<keyof Bridge, unknown>>): Bridge {
  return new Proxy(bridge, {
    get(target, key) {
      if (Object.hasOwn(replaced, key)) return replaced[key as keyof Bridge];
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A listening server on a free loopback port over a virtual bridge. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const { bridge, dataDir } = await openTestBridge(options);
  let server: KeybridgeServer;
  let url: string;
  try {
    server = await createServer({
      bridge: options.serve?.(bridge) ?? bridge,
      token: TOKEN,
      heartbeatMs: options.heartbeatMs ?? 15_000,
    });
    url = await server.listen("127.0.0.1", 0);
  } catch (error) {
    await bridge.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    bridge,
    bridgeDir: dataDir,
    server,
    url,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.token !== null) headers.set("authorization", `Bearer ${init.token ?? TOKEN}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set("content-type", "application/json");
        body = JSON.stringify(init.json);
      }
      return fetch(`${url}${path}`, { ...init, headers, body });
    },
    async close() {
      await server.close();
      await bridge.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

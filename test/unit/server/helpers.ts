import { createServer, type KeybridgeServer } from "../../../src/server/app.js";
import { FakeBridge, type FakeBridgeOptions } from "./fake-bridge.js";

export const TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv";

export interface Harness {
  bridge: FakeBridge;
  server: KeybridgeServer;
  url: string;
  api(path: string, init?: RequestInit & { json?: unknown; token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

/** A listening server on a free loopback port over a fake bridge. */
export async function startHarness(options: FakeBridgeOptions & { heartbeatMs?: number } = {}): Promise<Harness> {
  const bridge = new FakeBridge(options);
  const server = await createServer({ bridge, token: TOKEN, heartbeatMs: options.heartbeatMs ?? 15_000 });
  const url = await server.listen("127.0.0.1", 0);
  return {
    bridge,
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
    },
  };
}

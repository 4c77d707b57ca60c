import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import type { Bridge, BridgeOptions } from "../../src/bridge/api.js";
import { openBridge } from "../../src/bridge/index.js";
import { createServer, type KeybridgeServer } from "../../src/server/app.js";
import { Requirement } from "../support/require-tool.js";

/** Debian's Chromium; the browser tests never download one. */
export const CHROMIUM = "/usr/bin/chromium";
export const chromiumNeeded = Requirement.tool(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}

export type ApiCall = (path: string, init?: { method?: string; json?: unknown }) => Promise<unknown>;

/** Calls the daemon's API with the token, expecting success; `url` is read at each call. */
export function apiClient(url: () => string, token: string): ApiCall {
  return async (path, init = {}) => {
    const response = await fetch(`${url()}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.json === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    });
    expect(response.status, `${init.method ?? "GET"} ${path}`).toBeLessThan(300);
    return response.json() as Promise<unknown>;
  };
}

export interface DashboardFixture {
  readonly bridge: Bridge;
  readonly url: string;
  readonly browser: Browser;
  readonly api: ApiCall;
}

/**
 * A virtual bridge in a fresh data directory, the API server over it and a browser, opened in the
 * calling describe's beforeAll and closed again in its afterAll.
 */
export function useDashboard(
  prefix: string,
  token: string,
  /** More bridge options, asked for when the bridge opens (a CodeMeter installation to watch). */
  more: () => Partial<BridgeOptions> = () => ({}),
): DashboardFixture {
  let dataDir = "";
  let bridge: Bridge | undefined;
  let server: KeybridgeServer | undefined;
  let browser: Browser | undefined;
  let url = "";
  const opened = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not open: use the fixture inside the describe's tests`);
    return value;
  };
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), prefix));
    bridge = await openBridge({ dataDir, mode: "virtual", registry: { kind: "memory" }, hostPollMs: 200, ...more() });
    await bridge.ready();
    server = await createServer({ bridge, token });
    url = await server.listen("127.0.0.1", 0);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await bridge?.close();
    if (dataDir !== "") rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    get bridge() {
      return opened(bridge, "the bridge");
    },
    get url() {
      return url;
    },
    get browser() {
      return opened(browser, "the browser");
    },
    api: apiClient(() => url, token),
  };
}

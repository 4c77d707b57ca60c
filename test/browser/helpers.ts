import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { expect } from "vitest";

/** Debian's Chromium; the browser tests never download one. */
export const CHROMIUM = "/usr/bin/chromium";
export const haveChromium = existsSync(CHROMIUM);

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

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Bridge, KeyView } from "../../src/bridge/api.js";
import { openBridge } from "../../src/bridge/index.js";
import { createServer, type KeybridgeServer } from "../../src/server/app.js";
import { Notifier, resolveWebhooks } from "../../src/server/notify/index.js";
import { describeNeeding } from "../support/require-tool.js";
import { captureLogs } from "../unit/log-capture.js";
import { apiClient, chromiumNeeded, launchChromium } from "./helpers.js";

const TOKEN = "notify-dashboard-test-token-abcdefghijklmnopqrstuvw";

interface Received {
  event: string;
  path: string;
  body: string;
}

/** A port nothing listens on: the kernel hands one out, and it is closed again at once. */
async function closedPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function openDashboard(browser: Browser, base: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${base}/#token=${encodeURIComponent(TOKEN)}`);
  await expect.poll(() => page.locator("#live").textContent(), { timeout: 10_000 }).toBe("live");
  return page;
}

describeNeeding(chromiumNeeded, "dashboard notifications in headless Chromium (virtual bridge)", () => {
  let dataDir: string;
  let bridge: Bridge;
  let receiver: HttpServer;
  let receiverUrl: string;
  let deadUrl: string;
  const received: Received[] = [];
  let notifier: Notifier;
  let server: KeybridgeServer;
  let url: string;
  let bare: KeybridgeServer;
  let bareUrl: string;
  let browser: Browser;
  const api = apiClient(() => url, TOKEN);

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "kb-notify-dashboard-"));
    bridge = await openBridge({ dataDir, mode: "virtual", registry: { kind: "memory" }, hostPollMs: 200 });
    await bridge.ready();

    receiver = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        received.push({
          event: String(request.headers["x-keybridge-event"]),
          path: request.url ?? "",
          body: Buffer.concat(chunks).toString("utf8"),
        });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const address = receiver.address();
    if (address === null || typeof address === "string") throw new Error("the receiver has no port");
    receiverUrl = `http://127.0.0.1:${address.port}`;
    deadUrl = `http://127.0.0.1:${await closedPort()}`;

    notifier = new Notifier(
      bridge,
      resolveWebhooks([
        { name: "receiver", url: `${receiverUrl}/hooks/T0/B0/secret-part` },
        { name: "nobody-home", url: `${deadUrl}/hook`, events: ["risk.*"] },
      ]),
      // One attempt each, so a refused delivery is counted as failed at once.
      { retryDelaysMs: [], timeoutMs: 3_000, host: "dashboard-test" },
    );
    notifier.start();
    server = await createServer({ bridge, token: TOKEN, notifier });
    url = await server.listen("127.0.0.1", 0);
    bare = await createServer({ bridge, token: TOKEN });
    bareUrl = await bare.listen("127.0.0.1", 0);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await bare?.close();
    await notifier?.close(500);
    await bridge?.close();
    if (receiver) {
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("lists both webhooks, sends a test to all and shows which took it", async () => {
    const page = await openDashboard(browser, url);
    const rows = page.locator("#notify tbody tr.webhook");
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
    const good = page.locator('#notify tr[data-webhook="receiver"]');
    const dead = page.locator('#notify tr[data-webhook="nobody-home"]');
    // Scheme and host only: the path of a webhook URL is its secret.
    expect(await good.locator("td").nth(0).textContent()).toBe(`${receiverUrl}/…`);
    expect(await page.locator("#notify").textContent()).not.toContain("secret-part");
    expect(await good.locator("td").nth(1).textContent()).toBe("risk.raised, risk.cleared, borrow.dummy");
    expect(await dead.locator("td").nth(1).textContent()).toMatch(/^risk\.raised, risk\.cleared/);
    // Nothing was attempted yet, so nothing stands out.
    expect(await dead.getAttribute("class")).toBe("webhook");
    expect(await dead.locator("td").nth(6).textContent()).toBe("none yet");
    expect(await page.locator("#notify-actions").isVisible()).toBe(true);

    await page.getByRole("button", { name: "Send test to all" }).click();
    const goodResult = good.locator(".test-result");
    const deadResult = dead.locator(".test-result");
    await expect.poll(() => goodResult.textContent(), { timeout: 10_000 }).toMatch(/^ok HTTP 204 \(\d+(\.\d+)? ms\)$/);
    await expect.poll(() => deadResult.textContent(), { timeout: 10_000 }).toMatch(/^FAIL .+ \(\d+(\.\d+)? ms\)$/);
    expect(await deadResult.textContent()).toMatch(/ECONNREFUSED/);
    expect(await page.locator("#notify-summary").textContent()).toBe(
      "1 of 2 webhooks did not take the test: check the URL, the receiver and its logs.",
    );

    // The receiver got the test POST, at the configured path.
    const tests = received.filter((r) => r.event === "notify.test");
    expect(tests).toHaveLength(1);
    expect(tests[0]!.path).toBe("/hooks/T0/B0/secret-part");
    expect(JSON.parse(tests[0]!.body)).toMatchObject({ type: "notify.test", host: "dashboard-test" });

    // The list was read again after the test: the dead webhook's last attempt failed, and it stands out.
    await expect.poll(() => dead.getAttribute("class")).toBe("webhook trouble");
    expect(await dead.locator("td").nth(6).textContent()).toMatch(/^FAILED .*ECONNREFUSED/);
    expect(await dead.locator("td .when").textContent()).toMatch(/^notify\.test, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(await dead.locator("th .sev-critical").textContent()).toBe("failing");
    expect(await good.getAttribute("class")).toBe("webhook");
    expect(await good.locator("td").nth(6).textContent()).toMatch(/^ok HTTP 204notify\.test, /);

    // One webhook alone: only it is sent to.
    await page.getByRole("button", { name: "Send test to receiver" }).click();
    await expect.poll(() => received.filter((r) => r.event === "notify.test").length, { timeout: 10_000 }).toBe(2);
    await expect.poll(() => page.locator("#notify-summary").textContent()).toBe("receiver took the test.");

    mkdirSync("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/dashboard-notifications.png", fullPage: true });
    await page.close();
  });

  it("follows deliveries after events: a risk delivered to one webhook, given up on the other", async () => {
    const logs = captureLogs();
    const page = await openDashboard(browser, url);
    const good = page.locator('#notify tr[data-webhook="receiver"]');
    const dead = page.locator('#notify tr[data-webhook="nobody-home"]');
    await expect.poll(() => good.count(), { timeout: 10_000 }).toBe(1);
    expect(await good.locator("td").nth(2).textContent()).toBe("0");

    const keys = (await api("/v1/keys")) as KeyView[];
    const key = keys.find((k) => k.present && k.licenses.length > 0)!;
    await api("/v1/borrows", {
      method: "POST",
      json: { product: key.licenses[0]!.product, client: "ws-notify", serial: key.serial },
    });
    await api(`/v1/virtual/keys/${encodeURIComponent(key.serial)}/unplug`, { method: "POST" });

    await expect.poll(() => received.some((r) => r.event === "risk.raised"), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => good.locator("td").nth(2).textContent(), { timeout: 10_000 }).toBe("1");
    await expect.poll(() => dead.locator("td").nth(3).textContent(), { timeout: 10_000 }).toBe("1");
    expect(await dead.locator("td").nth(3).getAttribute("class")).toBe("num sev-critical");
    expect(await dead.locator("td .when").textContent()).toMatch(/^risk\.raised, /);
    expect(await good.locator("td .when").textContent()).toMatch(/^risk\.raised, /);
    expect(await dead.locator("td").nth(6).textContent()).toMatch(/^FAILED /);
    expect(await good.locator("td").nth(6).textContent()).toMatch(/^ok HTTP 204/);

    await api(`/v1/virtual/keys/${encodeURIComponent(key.serial)}/plug`, { method: "POST" });
    await page.close();
    // The dead webhook is given up on for the risk raised and for the risk cleared by the plug, each logged.
    const givenUp = () => logs.matching("error", /^a notification could not be delivered$/);
    await expect.poll(() => givenUp().length, { timeout: 10_000 }).toBe(2);
    expect(givenUp().map((line) => [line.webhook, line.event])).toEqual([
      ["nobody-home", "risk.raised"],
      ["nobody-home", "risk.cleared"],
    ]);
  });

  it("says how to configure a webhook when the server has none", async () => {
    const page = await openDashboard(browser, bareUrl);
    const none = page.locator("#notify-none");
    await expect.poll(() => none.count(), { timeout: 10_000 }).toBe(1);
    const text = await none.textContent();
    expect(text).toContain('"webhooks": [{"url": "https://…"}]');
    expect(text).toContain("docs/notify.md");
    expect(await page.locator("#notify table").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Send test to all" }).isVisible()).toBe(false);
    await page.close();
  });
});

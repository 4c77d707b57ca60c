import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { KeyView } from "../../src/bridge/api.js";
import { describeNeeding } from "../support/require-tool.js";
import { chromiumNeeded, useDashboard } from "./helpers.js";

const TOKEN = "dashboard-test-token-abcdefghijklmnopqrstuvwxyz0123";

describeNeeding(chromiumNeeded, "dashboard in headless Chromium (virtual bridge)", () => {
  // No CodeMeter installation where the CodeMeter mode looks: its section stays hidden.
  const nowhere = join(tmpdir(), "kb-dashboard-no-codemeter");
  const dashboard = useDashboard("kb-dashboard-", TOKEN, () => ({
    codemeter: { serverIni: join(nowhere, "Server.ini"), logDir: join(nowhere, "log"), cmu: join(nowhere, "cmu") },
  }));
  const { api } = dashboard;

  it("asks for the token when none is given", async () => {
    const page = await dashboard.browser.newPage();
    await page.goto(`${dashboard.url}/`);
    await expect.poll(() => page.locator("form#login").isVisible()).toBe(true);
    await expect.poll(() => page.getByLabel("API token").isVisible()).toBe(true);
    await page.close();
  });

  it("shows keys, a borrow after an API call, and a risk after a virtual unplug, live", async () => {
    const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${dashboard.url}/#token=${encodeURIComponent(TOKEN)}`);
    // The fragment is dropped from the address bar at once.
    expect(page.url()).toBe(`${dashboard.url}/`);
    await expect.poll(() => page.locator("#live").textContent(), { timeout: 10_000 }).toBe("live");
    const keys = (await api("/v1/keys")) as KeyView[];
    const key = keys.find((k) => k.present && k.licenses.length > 0);
    expect(key).toBeDefined();
    const license = key!.licenses[0]!;
    await expect.poll(() => page.locator("#keys").textContent()).toContain(key!.serial);
    expect(await page.locator("#sum-export").textContent()).toBe("never");
    expect(await page.locator("#codemeter").isVisible()).toBe(false);

    const borrow = (await api("/v1/borrows", {
      method: "POST",
      json: { product: license.product, client: "ws-dashboard", serial: key!.serial },
    })) as {
      id: number;
    };
    const row = page.locator("#borrows tbody tr", { hasText: "ws-dashboard" });
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.locator("td").first().textContent()).toBe(String(borrow.id));
    // Rounded, not cut: a 30-day borrow made a moment ago has 30 days left.
    expect(await row.textContent()).toMatch(/in 30 d/);

    await api(`/v1/virtual/keys/${encodeURIComponent(key!.serial)}/unplug`, { method: "POST" });
    const risk = page.locator("#risks article.risk");
    await expect.poll(() => risk.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await risk.first().textContent()).toMatch(/What to do/);

    // The events list follows live, newest first.
    const eventTypes = () => page.locator("#events tbody tr td:nth-child(3)").allTextContents();
    await expect.poll(eventTypes, { timeout: 10_000 }).toContain("key.detached");
    const types = await eventTypes();
    expect(types.indexOf("key.detached")).toBeLessThan(types.indexOf("borrow.created"));

    await page.getByRole("button", { name: "unplug key" }).click();
    await expect.poll(() => page.locator("#verdict .verdict").getAttribute("class")).toContain("unsafe");

    mkdirSync("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/dashboard.png", fullPage: true });
    await api(`/v1/virtual/keys/${encodeURIComponent(key!.serial)}/plug`, { method: "POST" });
    await page.close();
  });

  it("a page opened later lists what happened before it, from the daemon's event history", async () => {
    const history = (await api("/v1/events/history?limit=50")) as { events: { seq: number; type: string }[] };
    const attached = history.events.filter((e) => e.type === "key.attached").at(-1);
    expect(attached).toBeDefined();
    const page = await dashboard.browser.newPage();
    await page.goto(`${dashboard.url}/#token=${encodeURIComponent(TOKEN)}`);
    const row = page.locator("#events tbody tr", { hasText: "key.attached" }).first();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.locator("td").first().textContent()).toBe(String(attached!.seq));

    // A forced license update (a borrow is out) is audited, and the audit trail shows it.
    const [key] = (await api("/v1/keys")) as KeyView[];
    await api(`/v1/keys/${encodeURIComponent(key!.serial)}/license-update`, {
      method: "POST",
      json: {
        licenses: key!.licenses.map(({ product, seats, borrowable, borrowDays }) => ({
          product,
          seats,
          borrowable,
          borrowDays,
        })),
        force: true,
      },
    });
    await expect
      .poll(() => page.locator("#audit tbody tr td:nth-child(3)").allTextContents(), { timeout: 10_000 })
      .toContain("license-update-forced");
    await page.close();
  });
});

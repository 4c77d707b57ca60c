import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { SimulatedCodeMeterServer } from "../../native-mocks/codemeter-sim/index.js";
import type { CodeMeterView } from "../../src/bridge/api.js";
import { describeNeeding } from "../support/require-tool.js";
import { chromiumNeeded, useDashboard } from "./helpers.js";

const TOKEN = "codemeter-dashboard-test-token-abcdefghijklmnopqrs";
const DAY_MS = 86_400_000;

describeNeeding(chromiumNeeded, "dashboard CodeMeter section in headless Chromium (simulated CodeMeter server)", () => {
  // A SYNTHETIC CodeMeter server beside the virtual bridge, with three borrows out.
  const root = mkdtempSync(join(tmpdir(), "kb-cm-dashboard-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let sim: SimulatedCodeMeterServer | undefined;
  const dashboard = useDashboard("kb-cm-dashboard-data-", TOKEN, () => {
    sim = new SimulatedCodeMeterServer({ root, start: Date.now() });
    sim.borrow("ws-1", "anna", 1001, 30);
    sim.borrow("ws-2", "ben", 1001, 20);
    sim.borrow("ws-3", "cleo", 2001, 10);
    const { serverIni, logDir, cmu } = sim.paths;
    return { codemeter: { mode: "auto", serverIni, logDir, cmu } };
  });
  const { api } = dashboard;

  it("shows runtime, service, tracking, sticks and the borrows with expiry; a CodeMeter risk appears live", async () => {
    const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 1200 } });
    await page.goto(`${dashboard.url}/#token=${encodeURIComponent(TOKEN)}`);
    await expect.poll(() => page.locator("#live").textContent(), { timeout: 10_000 }).toBe("live");
    const section = page.locator("#codemeter");
    await expect.poll(() => section.isVisible(), { timeout: 10_000 }).toBe(true);
    const view = (await api("/v1/codemeter")) as CodeMeterView;
    expect(await page.locator("#cm-runtime").textContent()).toBe(view.runtime.version);
    expect(await page.locator("#cm-service").textContent()).toBe("running");
    expect(await page.locator("#cm-tracking").textContent()).toBe(`on — ${view.tracking.dir}`);
    expect(await page.locator("#cm-sticks").textContent()).toContain(sim?.stickSerial);
    const rows = page.locator("#cm-borrows tbody tr");
    expect(await rows.count()).toBe(3);
    const cleo = rows.filter({ hasText: "cleo" });
    expect(await cleo.textContent()).toMatch(/6000010:2001/);
    expect(await cleo.textContent()).toMatch(/in (9|10) d/);
    expect(await page.locator("#cm-no-risks").isVisible()).toBe(true);

    // A maintenance window tomorrow: the CodeMeter borrows end after it, a CodeMeter risk is raised.
    await api("/v1/maintenance", { method: "POST", json: { at: new Date(Date.now() + DAY_MS).toISOString() } });
    const risk = page.locator("#cm-risks article[data-kind='maintenance-blocked']");
    await expect.poll(() => risk.count(), { timeout: 10_000 }).toBe(1);
    expect(await risk.textContent()).toMatch(/What to do/);
    const listed = page.locator("#risks article[data-source='codemeter']");
    await expect.poll(() => listed.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await listed.first().textContent()).toContain("(CodeMeter)");

    mkdirSync("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/dashboard-codemeter.png", fullPage: true });
    await api("/v1/maintenance", { method: "DELETE" });
    await page.close();
  });
});

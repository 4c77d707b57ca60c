import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { expect, it } from "vitest";
import type { BorrowView, KeyView, MaintenanceView } from "../../src/bridge/api.js";
import { describeNeeding } from "../support/require-tool.js";
import { chromiumNeeded, useDashboard } from "./helpers.js";

const TOKEN = "maintenance-dashboard-test-token-abcdefghijklmnopq";
const DAY_MS = 86_400_000;

/** A `datetime-local` value `ms` from now in the page's own time zone, and the ISO time it stands for there. */
function localInPage(page: Page, ms: number): Promise<{ local: string; iso: string }> {
  return page.evaluate((offset) => {
    const d = new Date(Date.now() + offset);
    d.setSeconds(0, 0);
    const two = (n: number) => String(n).padStart(2, "0");
    const local = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
    return { local, iso: new Date(local).toISOString() };
  }, ms);
}

describeNeeding(chromiumNeeded, "dashboard maintenance in headless Chromium (virtual bridge)", () => {
  const dashboard = useDashboard("kb-maintenance-dashboard-", TOKEN);
  const { api } = dashboard;

  it("plans a window from the form, lists the borrow in its way, shows a refusal inline, follows a return and cancels", async () => {
    const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${dashboard.url}/#token=${encodeURIComponent(TOKEN)}`);
    await expect.poll(() => page.locator("#live").textContent(), { timeout: 10_000 }).toBe("live");
    const banner = page.locator("#maintenance");
    expect(await banner.isVisible()).toBe(false);

    const keys = (await api("/v1/keys")) as KeyView[];
    const key = keys.find((k) => k.present && k.licenses.length > 0)!;
    const license = key.licenses[0]!;
    const borrow = (await api("/v1/borrows", {
      method: "POST",
      json: { product: license.product, client: "ws-maintenance", serial: key.serial },
    })) as BorrowView;
    // The demo license's default period: the borrow ends well after a window 5 days out.
    expect(Date.parse(borrow.expiresAt)).toBeGreaterThan(Date.now() + 20 * DAY_MS);
    await expect
      .poll(() => page.locator("#borrows tbody tr", { hasText: "ws-maintenance" }).count(), { timeout: 10_000 })
      .toBe(1);

    const start = await localInPage(page, 5 * DAY_MS);
    const note = "new disk <b>for</b> the build host";
    await page.getByLabel("Starts").fill(start.local);
    await page.getByLabel("For").selectOption("reinstall-os");
    await page.getByLabel("Note (optional)").fill(note);
    await page.getByRole("button", { name: "Plan maintenance" }).click();

    await expect.poll(() => banner.isVisible(), { timeout: 10_000 }).toBe(true);
    const planned = (await api("/v1/maintenance")) as MaintenanceView;
    expect(planned.plan).toMatchObject({ at: start.iso, until: null, action: "reinstall-os", note });
    expect(planned.borrowsEndingAfter.map((b) => b.id)).toEqual([borrow.id]);
    expect(await page.locator("#plan-result").textContent()).toMatch(/^Planned for \d{4}-\d\d-\d\d \d\d:\d\d\.$/);
    expect(await banner.getAttribute("class")).toBe("maint warning");
    expect(await banner.getAttribute("data-phase")).toBe("before");
    expect(await page.locator("#h-maint").textContent()).toBe("Maintenance planned");
    const startText = await page.locator("#maint-at").textContent();
    expect(startText?.startsWith(`${start.local.replace("T", " ")} (in `)).toBe(true);
    expect(startText).toMatch(/\(in [45] d\)$/);
    expect(await page.locator("#maint-until").textContent()).toBe("when the plan is cancelled");
    expect(await page.locator("#maint-action").textContent()).toBe("reinstall os");
    // The note is text, never markup.
    expect(await page.locator("#maint-note").textContent()).toBe(note);
    expect(await page.locator("#maint-note b").count()).toBe(0);
    expect(await page.locator("#maint-summary").textContent()).toBe(planned.summary);
    const act = page.locator("#maint-act");
    expect(await act.getAttribute("class")).toBe("risk warning");
    expect(await act.locator(".sev-warning").textContent()).toBe("act");
    const row = act.locator("tbody tr");
    expect(await row.count()).toBe(1);
    const cells = await row.locator("td").allTextContents();
    // The product with its name, as the licenses table shows it.
    const product = license.name === undefined ? String(license.product) : `${license.product} ${license.name}`;
    expect(cells.slice(0, 4)).toEqual([String(borrow.id), key.serial, "ws-maintenance", product]);
    expect(cells[5]).toBe("in 30 d");
    expect(await page.locator("#maint-clear").count()).toBe(0);
    await expect
      .poll(() => page.locator("#events tbody tr td:nth-child(3)").allTextContents(), { timeout: 10_000 })
      .toContain("maintenance.planned");

    // An end before the start: the daemon's 400 is shown next to the form, on the field it names.
    const end = await localInPage(page, 4 * DAY_MS);
    await page.getByLabel("Ends (optional)").fill(end.local);
    await page.getByRole("button", { name: "Plan maintenance" }).click();
    const result = page.locator("#plan-result");
    await expect
      .poll(() => result.textContent(), { timeout: 10_000 })
      .toMatch(/^Not planned: the maintenance must end after it starts; \S+ is not after \S+ \(until\)$/);
    expect(await result.getAttribute("class")).toBe("sev-critical");
    expect(await page.getByLabel("Ends (optional)").getAttribute("aria-invalid")).toBe("true");
    expect(((await api("/v1/maintenance")) as MaintenanceView).plan).toMatchObject({ at: start.iso, until: null });
    expect(await act.locator("tbody tr").count()).toBe(1);

    mkdirSync("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/dashboard-maintenance.png", fullPage: true });

    // Returned through the API: the page reads the plan again after the event and says it is clear.
    await api(`/v1/borrows/${borrow.id}?serial=${encodeURIComponent(key.serial)}`, { method: "DELETE" });
    const clear = page.locator("#maint-clear");
    await expect.poll(() => clear.count(), { timeout: 10_000 }).toBe(1);
    expect(await clear.getAttribute("class")).toBe("ok");
    expect(await clear.textContent()).toBe("Clear: no borrow out ends after the window starts.");
    expect(await banner.getAttribute("class")).toBe("maint clear");
    expect(await act.count()).toBe(0);
    expect(await page.locator("#maint-summary").textContent()).toBe(
      ((await api("/v1/maintenance")) as MaintenanceView).summary,
    );

    await page.getByRole("button", { name: "Cancel plan" }).click();
    await expect.poll(() => banner.isVisible(), { timeout: 10_000 }).toBe(false);
    expect(await page.locator("#maint-body").textContent()).toBe("");
    expect(await result.textContent()).toBe("The plan was cancelled; borrowing is normal again.");
    expect(((await api("/v1/maintenance")) as MaintenanceView).plan).toBeNull();
    await expect
      .poll(() => page.locator("#events tbody tr td:nth-child(3)").allTextContents(), { timeout: 10_000 })
      .toContain("maintenance.cancelled");
    await page.close();
  });

  it("follows a plan made and cancelled elsewhere, from the event stream", async () => {
    await api("/v1/maintenance", { method: "DELETE" });
    const page = await dashboard.browser.newPage();
    await page.goto(`${dashboard.url}/#token=${encodeURIComponent(TOKEN)}`);
    await expect.poll(() => page.locator("#live").textContent(), { timeout: 10_000 }).toBe("live");
    const banner = page.locator("#maintenance");
    expect(await banner.isVisible()).toBe(false);

    const at = new Date(Date.now() + 3 * DAY_MS).toISOString();
    const until = new Date(Date.now() + 4 * DAY_MS).toISOString();
    await api("/v1/maintenance", { method: "POST", json: { at, until, action: "move-key" } });
    await expect.poll(() => banner.isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await page.locator("#maint-action").textContent()).toBe("move key");
    expect(await page.locator("#maint-until").textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d \(in [34] d\)$/);
    expect(await page.locator("#maint-note").count()).toBe(0);
    expect(await page.locator("#maint-summary").textContent()).toBe(
      ((await api("/v1/maintenance")) as MaintenanceView).summary,
    );

    await api("/v1/maintenance", { method: "DELETE" });
    await expect.poll(() => banner.isVisible(), { timeout: 10_000 }).toBe(false);
    await page.close();
  });
});

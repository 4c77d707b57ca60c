import { describe, expect, it } from "vitest";
import type { BorrowView, BridgeEvent } from "../../../src/bridge/api.js";
import { EventBus } from "../../../src/bridge/event-bus.js";
import { MaintenancePlanner, type MaintenanceTx } from "../../../src/bridge/maintenance.js";
import { captureLogs } from "../log-capture.js";
import { closeBridge, openVirtual, tempDataDir } from "./helpers.js";

const DAY = 86_400_000;
const T0 = Date.parse("2026-12-01T12:00:00.000Z");

/** A planner over an in-memory meta table, with a clock the test moves. */
function planner(meta = new Map<string, string>()) {
  let now = T0;
  const audit: { kind: string; message: string }[] = [];
  const bus = new EventBus();
  const events: BridgeEvent[] = [];
  bus.events$.subscribe((event) => events.push(event));
  const tx: MaintenanceTx = {
    setMeta: (key, value) => void meta.set(key, value),
    audit: (entry) => audit.push(entry),
  };
  const store = {
    getMeta: (key: string) => meta.get(key),
    commit: async <T>(work: (t: MaintenanceTx) => T) => work(tx),
  };
  const make = () => new MaintenancePlanner({ ledger: store, events: bus }, () => now);
  const setNow = (ms: number) => {
    now = ms;
  };
  return { make, meta, audit, events, setNow };
}

const borrow = (id: number, expiresAt: number, state: BorrowView["state"] = "active"): BorrowView => ({
  source: "keybridge",
  id,
  serial: "KB-1",
  product: 1001,
  client: `ws-${id}`,
  issuedAt: new Date(T0 - DAY).toISOString(),
  expiresAt: new Date(expiresAt).toISOString(),
  state,
});

describe("MaintenancePlanner", () => {
  it("without a plan, a borrow gets what it asked for", () => {
    const p = planner().make();
    expect(p.allowedDays(undefined, 30, T0)).toBe(30);
    expect(p.allowedDays(7, 30, T0)).toBe(7);
    expect(p.view([borrow(1, T0 + 20 * DAY)])).toMatchObject({ plan: null, phase: "none", clear: true });
  });

  it("before the window: a default period is shortened to end before it, a longer explicit one refused", async () => {
    const p = planner().make();
    await p.set({ at: new Date(T0 + 10.5 * DAY).toISOString(), action: "reinstall-os" });
    expect(p.allowedDays(undefined, 30, T0)).toBe(10);
    expect(p.allowedDays(10, 30, T0)).toBe(10);
    expect(p.allowedDays(3, 30, T0)).toBe(3);
    expect(() => p.allowedDays(11, 30, T0)).toThrow(
      expect.objectContaining({ code: "MAINTENANCE_PLANNED", details: expect.objectContaining({ maxDays: 10 }) }),
    );
    // The key's clock sets the expiry: a key running a day ahead leaves one day less.
    expect(p.allowedDays(undefined, 30, T0 + DAY)).toBe(9);
  });

  it("less than a day before the window, and during it, nothing is borrowed; after `until` borrowing is normal", async () => {
    const h = planner();
    const p = h.make();
    await p.set({ at: new Date(T0 + 0.5 * DAY).toISOString(), until: new Date(T0 + 2 * DAY).toISOString() });
    expect(() => p.allowedDays(undefined, 30, T0)).toThrow(expect.objectContaining({ code: "MAINTENANCE_PLANNED" }));
    h.setNow(T0 + DAY);
    expect(() => p.allowedDays(1, 30, T0 + DAY)).toThrow(/borrowing is closed during the maintenance/);
    expect(p.view([]).phase).toBe("during");
    h.setNow(T0 + 2 * DAY);
    expect(p.allowedDays(undefined, 30, T0 + 2 * DAY)).toBe(30);
    expect(p.view([]).phase).toBe("over");
  });

  it("lists the active borrows that end after the start; clear once none does", async () => {
    const p = planner().make();
    await p.set({ at: new Date(T0 + 10 * DAY).toISOString() });
    const outstanding = [borrow(1, T0 + 5 * DAY), borrow(2, T0 + 20 * DAY), borrow(3, T0 + 25 * DAY, "expired")];
    const view = p.view(outstanding);
    expect(view.borrowsEndingAfter.map((b) => b.id)).toEqual([2]);
    expect(view.clear).toBe(false);
    expect(view.summary).toMatch(/^1 borrow ends after 2026-12-11T12:00:00.000Z: ask for it back .*\(2 ws-2\)/);
    expect(p.view([borrow(1, T0 + 5 * DAY)])).toMatchObject({ clear: true, phase: "before" });
  });

  it("refuses a start in the past, an end before the start, an unknown action and a long note", async () => {
    const p = planner().make();
    const at = new Date(T0 + DAY).toISOString();
    const cases: [Parameters<typeof p.set>[0], string][] = [
      [{ at: new Date(T0 - 1).toISOString() }, "at"],
      [{ at: "tomorrow" }, "at"],
      [{ at, until: at }, "until"],
      [{ at, action: "format-disk" as never }, "action"],
      [{ at, note: "x".repeat(201) }, "note"],
    ];
    for (const [input, field] of cases) {
      await expect(p.set(input)).rejects.toMatchObject({ code: "VALIDATION", details: { field } });
    }
    expect(p.current()).toBeNull();
  });

  it("is kept in the ledger's meta table, audited and published; cancel ends it", async () => {
    const h = planner();
    const first = h.make();
    const view = await first.set({ at: new Date(T0 + 3 * DAY).toISOString(), note: "new disk" });
    expect(h.make().current()).toEqual(view);
    expect(h.audit.map((entry) => entry.kind)).toEqual(["maintenance-planned"]);
    expect(h.events.map((event) => event.type)).toEqual(["maintenance.planned"]);
    expect(await first.cancel()).toEqual(view);
    expect(h.make().current()).toBeNull();
    expect(await first.cancel()).toBeNull();
    expect(h.audit.map((entry) => entry.kind)).toEqual(["maintenance-planned", "maintenance-cancelled"]);
    expect(h.events.map((event) => event.type)).toEqual(["maintenance.planned", "maintenance.cancelled"]);
  });
});

describe("a maintenance plan on a running bridge (virtual key)", () => {
  it("shortens new borrows to end before it, refuses longer ones, survives a restart and ends on cancel", async () => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir });
    const before = await bridge.borrow({ product: 1001, client: "ws-early" });
    const at = new Date(Date.now() + 5.5 * DAY).toISOString();
    const planned = await bridge.planMaintenance({ at, action: "reinstall-os" });
    expect(planned.borrowsEndingAfter.map((b) => b.id)).toEqual([before.id]);
    expect(planned.summary).toContain("ask for it back");

    const shortened = await bridge.borrow({ product: 1001, client: "ws-late" });
    expect(Date.parse(shortened.expiresAt)).toBeLessThanOrEqual(Date.parse(at));
    expect(Date.parse(shortened.expiresAt) - Date.parse(shortened.issuedAt)).toBe(5 * DAY);
    await expect(bridge.borrow({ product: 1001, client: "ws-long", days: 7 })).rejects.toMatchObject({
      code: "MAINTENANCE_PLANNED",
      details: { maxDays: 5 },
    });
    expect((await bridge.status()).maintenance).toMatchObject({ at, action: "reinstall-os" });

    await closeBridge(bridge);
    const again = await openVirtual({ dataDir });
    expect((await again.maintenance()).plan).toMatchObject({ at, action: "reinstall-os" });
    await again.returnBorrow(before.id);
    expect((await again.maintenance()).clear).toBe(true);
    const cancelled = await again.cancelMaintenance();
    expect(cancelled).toMatchObject({ plan: null, phase: "none" });
    const normal = await again.borrow({ product: 1001, client: "ws-after" });
    expect(Date.parse(normal.expiresAt) - Date.parse(normal.issuedAt)).toBe(30 * DAY);
    const kinds = (await again.audit()).map((entry) => entry.kind);
    expect(kinds).toEqual(expect.arrayContaining(["maintenance-planned", "maintenance-cancelled"]));
  });
});

describe("the maintenance-blocked risk on a running bridge", () => {
  it("is raised when a window less than two days away still has a borrow in its way, and cleared by its return", async () => {
    const bridge = await openVirtual();
    const out = await bridge.borrow({ product: 1001, client: "ws-early" });
    await bridge.planMaintenance({ at: new Date(Date.now() + 5 * DAY).toISOString() });
    expect(bridge.risks().map((risk) => risk.kind)).not.toContain("maintenance-blocked");
    await bridge.planMaintenance({ at: new Date(Date.now() + 1.5 * DAY).toISOString(), action: "upgrade-licenses" });
    const risk = bridge.risks().find((r) => r.kind === "maintenance-blocked");
    expect(risk).toMatchObject({ severity: "warning", borrowIds: [out.id] });
    expect(risk?.message).toContain("ws-early");
    await bridge.returnBorrow(out.id);
    expect(bridge.risks().map((r) => r.kind)).not.toContain("maintenance-blocked");
  });
});

describe("a damaged maintenance plan in the ledger", () => {
  it("is ignored (logged) so the daemon still starts, and borrowing is normal", () => {
    const logs = captureLogs();
    for (const value of [
      "{not json",
      JSON.stringify({ at: "soon" }),
      JSON.stringify({ at: 1, plannedAt: 1, until: null, action: "format-disk", note: null }),
    ]) {
      const p = planner(new Map([["maintenance_plan", value]])).make();
      expect(p.current()).toBeNull();
      expect(p.allowedDays(undefined, 30, T0)).toBe(30);
    }
    expect(
      logs.matching("error", /^the maintenance plan kept in the ledger cannot be read; it is ignored/),
    ).toHaveLength(3);
  });
});

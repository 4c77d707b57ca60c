import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SimulatedCodeMeterServer } from "../../../native-mocks/codemeter-sim/index.js";
import type { BridgeEvent, CodeMeterBorrowView } from "../../../src/bridge/api.js";
import { openCodeMeterBridge, simRoot, waitFor, waitForRisk } from "./codemeter-helpers.js";
import { openVirtual } from "./helpers.js";

const THREE: [string, string, number, number][] = [
  ["ws-1", "anna", 1001, 30],
  ["ws-2", "ben", 1001, 20],
  ["ws-3", "cleo", 2001, 10],
];

describe("the bridge's CodeMeter mode", () => {
  it("shows the simulated server: runtime, service, tracking, the stick and the borrows with their expiry", async () => {
    const { bridge, sim } = await openCodeMeterBridge({ borrows: THREE });
    const view = await bridge.codemeter();
    expect(view.enabled).toBe(true);
    expect(view.runtime).toEqual({ version: sim.runtimeVersion, serviceRunning: true });
    expect(view.tracking).toEqual({ enabled: true, dir: sim.paths.logDir });
    expect(view.sticks).toContainEqual(expect.objectContaining({ serial: sim.stickSerial, present: true }));
    expect(view.borrows.map((b) => b.client).sort()).toEqual(["ws-1", "ws-2", "ws-3"]);
    const first = view.borrows.find((b) => b.client === "ws-3") as CodeMeterBorrowView;
    const simBorrow = sim.active().find((b) => b.client === "ws-3");
    expect(first).toMatchObject({
      source: "codemeter",
      borrowId: simBorrow?.borrowId,
      serial: sim.stickSerial,
      firmCode: 6000010,
      productCode: 2001,
      user: "cleo",
      expiresAt: new Date(Math.floor((simBorrow?.expiresAt ?? 0) / 1000) * 1000).toISOString(),
      state: "active",
    });
    expect(view.logLines.parsed).toBeGreaterThan(0);

    const status = await bridge.status();
    expect(status.codemeter).toEqual({
      runtimeVersion: sim.runtimeVersion,
      serviceRunning: true,
      trackingEnabled: true,
      sticksPresent: 1,
      borrowsOutstanding: 3,
    });
  });

  it("lists CodeMeter borrows beside keybridge's own, each with its source; keybridge's fields are unchanged", async () => {
    const { bridge } = await openCodeMeterBridge({ borrows: THREE });
    const own = await bridge.borrow({ product: 1001, client: "kb-ws" });
    const list = await bridge.borrowList();
    expect(list.filter((b) => b.source === "codemeter")).toHaveLength(3);
    const mine = list.filter((b) => b.source === "keybridge");
    expect(mine).toEqual([own]);
    expect(await bridge.borrowList({ source: "keybridge" })).toEqual([own]);
    expect(await bridge.borrowList({ source: "codemeter" })).toHaveLength(3);
    // The keybridge-only list stays what it was.
    expect(await bridge.borrows()).toEqual([own]);
  });

  it("raises key-unplugged with source codemeter when the stick leaves with borrows out, on the bus too", async () => {
    const { bridge, sim, unplugStick, plugStick } = await openCodeMeterBridge({ borrows: THREE });
    expect(bridge.risks()).toEqual([]);
    const raised = waitFor(
      bridge.events$,
      (event: BridgeEvent) => event.type === "risk.raised" && event.risk?.source === "codemeter",
    );
    unplugStick();
    const risks = await waitForRisk(bridge, (risk) => risk.kind === "key-unplugged" && risk.source === "codemeter");
    const risk = risks.find((r) => r.kind === "key-unplugged");
    expect(risk?.serial).toBe(sim.stickSerial);
    expect(risk?.codeMeterBorrowIds?.sort()).toEqual(
      sim
        .active()
        .map((b) => b.borrowId)
        .sort(),
    );
    expect(risk?.borrowIds).toBeUndefined();
    expect((await raised).risk?.kind).toBe("key-unplugged");
    expect((await bridge.codemeter()).risks.map((r) => r.kind)).toContain("key-unplugged");
    expect((await bridge.status()).risks.some((r) => r.source === "codemeter")).toBe(true);

    const cleared = waitFor(
      bridge.events$,
      (event: BridgeEvent) => event.type === "risk.cleared" && event.risk?.source === "codemeter",
    );
    plugStick();
    await cleared;
    expect(bridge.risks().filter((r) => r.source === "codemeter")).toEqual([]);
  });

  it("preflight answers for both sources at once: unsafe, every borrow with its source, the last end", async () => {
    const { bridge, sim } = await openCodeMeterBridge({ borrows: THREE });
    const own = await bridge.borrow({ product: 1001, client: "kb-ws", days: 3 });
    const answer = await bridge.preflight("unplug-key");
    expect(answer.safe).toBe(false);
    expect(answer.borrows.filter((b) => b.source === "keybridge")).toEqual([
      expect.objectContaining({ id: own.id, serial: own.serial }),
    ]);
    const theirs = answer.borrows.filter((b) => b.source === "codemeter");
    expect(theirs).toHaveLength(3);
    // ws-1's borrow (30 days) ends last, after keybridge's 3-day one.
    const last = Math.max(...sim.active().map((b) => b.expiresAt ?? 0));
    expect(Date.parse(answer.lastEndsAt ?? "")).toBe(Math.floor(last / 1000) * 1000);
    expect(answer.reasons.length).toBeGreaterThanOrEqual(4);
  });

  it("preflight is unsafe for CodeMeter borrows alone, and safe once there are none", async () => {
    const { bridge } = await openCodeMeterBridge({ borrows: THREE });
    const unsafe = await bridge.preflight("change-ip");
    expect(unsafe.safe).toBe(false);
    expect(unsafe.borrows.every((b) => b.source === "codemeter")).toBe(true);
    const quiet = await openCodeMeterBridge();
    const safe = await quiet.bridge.preflight("change-ip");
    expect(safe).toMatchObject({ safe: true, borrows: [], lastEndsAt: null });
  });

  it("maintenance gives the WebAdmin setting and raises maintenance-blocked for CodeMeter borrows past the window", async () => {
    const { bridge, sim } = await openCodeMeterBridge({ borrows: THREE });
    // Within two days: borrows past the window are a risk from then on.
    const at = new Date(sim.now() + 86_400_000);
    const plan = await bridge.planMaintenance({ at: at.toISOString(), action: "upgrade-licenses" });
    expect(plan.codemeter?.maximumBorrowDurationMinutes).toBeGreaterThanOrEqual(24 * 60 - 1);
    expect(plan.codemeter?.maximumBorrowDurationMinutes).toBeLessThanOrEqual(24 * 60);
    expect(plan.codemeter?.setting).toContain("Maximum Borrow Duration");
    expect(plan.codemeter?.borrowsEndingAfter).toHaveLength(3);
    expect(plan.codemeter?.clear).toBe(false);
    await waitForRisk(bridge, (risk) => risk.kind === "maintenance-blocked" && risk.source === "codemeter");
  });

  it("auto on a host without CodeMeter: disabled, and nothing of it in status, borrows or risks", async () => {
    const missing = simRoot();
    const bridge = await openVirtual({
      codemeter: {
        mode: "auto",
        serverIni: `${missing}/no/Server.ini`,
        logDir: `${missing}/no/log`,
        cmu: `${missing}/no/cmu`,
      },
    });
    const view = await bridge.codemeter();
    expect(view).toMatchObject({ enabled: false, mode: "auto", sticks: [], borrows: [], risks: [], findings: [] });
    expect(view.runtime).toEqual({ version: null, serviceRunning: null });
    const status = await bridge.status();
    expect(status.codemeter).toBeUndefined();
    expect(await bridge.borrowList()).toEqual(await bridge.borrows());
  });

  it("off never runs, even beside a CodeMeter server with borrows out", async () => {
    const { bridge } = await openCodeMeterBridge({ borrows: THREE, mode: "off" });
    expect((await bridge.codemeter()).enabled).toBe(false);
    expect(await bridge.borrowList({ source: "codemeter" })).toEqual([]);
    expect((await bridge.preflight("unplug-key")).safe).toBe(true);
  });

  it("on with nothing there: runs, and each missing part is a finding", async () => {
    const missing = simRoot();
    const bridge = await openVirtual({
      codemeter: { mode: "on", serverIni: `${missing}/Server.ini`, logDir: `${missing}/log`, cmu: `${missing}/cmu` },
    });
    const view = await bridge.codemeter();
    expect(view.enabled).toBe(true);
    expect(view.findings.map((f) => f.code)).toEqual(expect.arrayContaining(["config-missing", "cmu-missing"]));
  });

  it("close stops the watch: cmu is polled while open and never after", async () => {
    const { bridge, sim } = await openCodeMeterBridge({ borrows: THREE, runtimePollMs: 20 });
    const calls = () => readFileSync(sim.paths.invocations, "utf8").split("\n").length;
    const before = calls();
    await waitUntil(() => calls() > before + 1);
    await bridge.close();
    // A cmu started just before the close may still write its line; none starts after it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const settled = calls();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls()).toBe(settled);
  });

  it("a CodeMeter mode that cannot start leaves keybridge serving, and says why", async () => {
    const root = simRoot();
    const sim = new SimulatedCodeMeterServer({ root, start: Date.now() });
    const { serverIni, logDir, cmu } = sim.paths;
    const bridge = await openVirtual(
      { codemeter: { mode: "auto", serverIni, logDir, cmu } },
      {
        codeMeterWatch: {
          now: () => {
            throw new Error("no clock");
          },
        },
      },
    );
    const view = await bridge.codemeter();
    expect(view.enabled).toBe(true);
    expect(view.findings).toContainEqual({
      code: "mode-failed",
      message: "the CodeMeter mode could not start: no clock",
    });
    expect((await bridge.borrow({ product: 1001, client: "ws" })).state).toBe("active");
  });

  it("keeps keybridge's own risks with source keybridge", async () => {
    const bridge = await openVirtual();
    await bridge.borrow({ product: 1001, client: "ws" });
    await bridge.virtual?.unplug("KB-DEMO-0001");
    const risks = await waitForRisk(bridge, (risk) => risk.kind === "key-unplugged");
    expect(risks.every((risk) => risk.source === "keybridge")).toBe(true);
  });
});

async function waitUntil(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

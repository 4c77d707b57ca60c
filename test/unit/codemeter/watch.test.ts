import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openCodeMeterWatch } from "../../../src/codemeter/open.js";
import { POSITIONS_FILE } from "../../../src/codemeter/sources/position-store.js";
import { MemoryObservationStore } from "../../../src/codemeter/store.js";
import { onCleanup, simWorld, tempDir, watchedWorld } from "./helpers.js";

// Runs the CodeMeter watch over the SYNTHETIC simulated installation (native-mocks/codemeter-sim).

const DAY = 86_400_000;

async function threeBorrows(options: Parameters<typeof watchedWorld>[0] = {}) {
  const world = await watchedWorld(options);
  const { sim } = world;
  sim.advance(3_600_000);
  const a = sim.borrow("ws-1", "anna", 1001);
  const b = sim.borrow("ws-2", "ben", 1001);
  const c = sim.borrow("ws-3", "cleo", 2001, 14);
  sim.advance(60_000);
  await world.look();
  return { ...world, borrows: [a, b, c] };
}

describe("the CodeMeter borrow view", () => {
  it("shows each borrow seen in the log with its license (serial, firm code, product code), client, user and expiry", async () => {
    const { watch, sim, borrows } = await threeBorrows();
    const view = watch.view();
    expect(view.enabled).toBe(true);
    expect(view.runtime).toEqual({ version: "8.20a", serviceRunning: true, cmu: "ok" });
    expect(view.tracking).toMatchObject({ enabled: true, dir: sim.paths.logDir, state: "ok", files: 2 });
    expect(view.sticks).toEqual([{ serial: "3-6903986", model: "CmStick (HID)", present: true }]);
    expect(
      view.borrows.map((b) => [b.borrowId, b.serial, b.firmCode, b.productCode, b.client, b.user, b.knownBy]),
    ).toEqual([
      [borrows[2]!.borrowId, "3-6903986", 6000010, 2001, "ws-3", "cleo", "tracking-log"],
      [borrows[0]!.borrowId, "3-6903986", 100532, 1001, "ws-1", "anna", "tracking-log"],
      [borrows[1]!.borrowId, "3-6903986", 100532, 1001, "ws-2", "ben", "tracking-log"],
    ]);
    expect(view.borrows[0]?.expiresAt).toBe(new Date(borrows[2]!.expiresAt!).toISOString());
    expect(watch.risks()).toEqual([]);
  });

  it("a restart re-lists the borrows (audited); one not re-listed is missing, with a plain borrow-missing risk", async () => {
    const { watch, sim, store, borrows, look } = await threeBorrows();
    sim.advanceDays(1);
    sim.restartService();
    sim.advance(5 * 60_000);
    await look();
    expect(watch.view().borrows.every((b) => !b.missing)).toBe(true);
    const audit = (store as MemoryObservationStore).audit;
    expect(
      audit
        .filter((a) => a.kind === "codemeter-borrow-relisted")
        .map((a) => a.borrowId)
        .sort(),
    ).toEqual(borrows.map((b) => b.borrowId).sort());

    sim.advanceDays(1);
    const lost = sim.restartService({ midBorrow: { client: "ws-4", user: "dora", productCode: 1003 } });
    sim.advance(5 * 60_000);
    await look();
    const missing = watch.view().borrows.filter((b) => b.missing);
    expect(missing.map((b) => b.borrowId)).toEqual([lost?.borrowId]);
    const risk = watch.risks().find((r) => r.kind === "borrow-missing");
    expect(risk?.message).toContain("a Borrow Dummy is likely");
    expect(risk?.message).toContain(lost!.borrowId);
    expect(risk?.severity).toBe("critical");
  });

  it("an expired borrow drops out (audited as gone)", async () => {
    const { watch, sim, store, borrows, look } = await threeBorrows();
    sim.advanceDays(15);
    await look();
    expect(watch.view().borrows.map((b) => b.borrowId)).not.toContain(borrows[2]!.borrowId);
    expect(
      (store as MemoryObservationStore).audit.some(
        (a) => a.kind === "codemeter-borrow-gone" && a.borrowId === borrows[2]!.borrowId,
      ),
    ).toBe(true);
  });

  it("a restart of keybridge keeps the picture from the store, without reading the log again", async () => {
    const first = await threeBorrows();
    const before = first.watch.view().borrows;
    await first.watch.close();
    const second = await watchedWorld({ world: first, store: first.store, positions: first.positions });
    expect(second.watch.view().borrows).toEqual(before);
    expect(second.trackingLog.bytesRead()).toBe(0);
  });
});

describe("CodeMeter risks", () => {
  it("are raised only while borrows are out, name them, and clear when the cause is gone", async () => {
    const world = await watchedWorld();
    const { sim, watch, look } = world;
    sim.unplugStick();
    await look();
    expect(watch.risks()).toEqual([]);
    sim.plugStick();
    const borrow = sim.borrow("ws-1", "anna", 1001);
    await look();
    sim.unplugStick();
    await look();
    const [risk] = watch.risks();
    expect(risk).toMatchObject({
      kind: "key-unplugged",
      severity: "critical",
      source: "codemeter",
      serial: "3-6903986",
      borrows: [borrow.borrowId],
    });
    expect(risk?.message).toContain('client "ws-1"');
    expect(risk?.advice).toContain("Plug stick 3-6903986 back into this same computer");
    const since = risk?.since;
    sim.advance(60_000);
    await look();
    expect(watch.risks()[0]?.since).toBe(since);
    sim.plugStick();
    await look();
    expect(watch.risks()).toEqual([]);
  });

  it("Borrow sections emptied while borrows are out: registry-lost", async () => {
    const { sim, watch, look } = await threeBorrows();
    sim.loseBorrowSections();
    await look();
    const risk = watch.risks().find((r) => r.kind === "registry-lost");
    expect(risk?.message).toMatch(/\[BorrowServer\] was emptied/);
    expect(risk?.borrows).toHaveLength(3);
    expect(risk?.advice).toContain("before the CodeMeter service restarts");
  });

  it("the service stopped: service-stopped until it runs again and has re-listed every borrow", async () => {
    const { sim, watch, look } = await threeBorrows();
    sim.stopService();
    await look();
    expect(watch.risks().map((r) => r.kind)).toEqual(["service-stopped"]);
    expect(watch.view().runtime.serviceRunning).toBe(false);
    sim.advance(60_000);
    sim.startService();
    await look();
    expect(watch.risks()[0]?.message).toMatch(/restarted .*3 of 3 re-listed/);
    sim.advance(5 * 60_000);
    await look();
    expect(watch.risks()).toEqual([]);
  });

  it("a clock jump while borrows are out: clock-jump; the runtime upgraded: driver-changed", async () => {
    const { sim, watch, look, clockJumps$ } = await threeBorrows();
    clockJumps$.next({
      type: "clock.jump",
      at: new Date(sim.now()),
      direction: "backward",
      jumpMs: 3 * DAY,
      acrossRestart: false,
    });
    const jump = watch.risks().find((r) => r.kind === "clock-jump");
    expect(jump?.message).toContain(`jumped backward by ${3 * 24 * 60} minutes`);
    expect(jump?.borrows).toHaveLength(3);
    clockJumps$.next({
      type: "clock.jump",
      at: new Date(sim.now()),
      direction: "forward",
      jumpMs: 3 * DAY,
      acrossRestart: false,
    });
    expect(watch.risks().find((r) => r.kind === "clock-jump")).toBeUndefined();
    sim.upgradeRuntime("8.30");
    sim.advance(5 * 60_000);
    await look();
    const changed = watch.risks().find((r) => r.kind === "driver-changed");
    expect(changed?.message).toContain("from version 8.20a to 8.30");
  });

  it("License Tracking off: a tracking-off warning that says how to turn it on, always", async () => {
    const { sim, watch, look } = await watchedWorld({ tracking: false });
    await look();
    const [risk] = watch.risks();
    expect(risk?.kind).toBe("tracking-off");
    expect(risk?.severity).toBe("warning");
    expect(risk?.message).toContain("LogLicenseTracking=0");
    expect(risk?.advice).toContain(`set LogLicenseTracking=1 in the [General] section of ${sim.paths.serverIni}`);
    expect(risk?.advice).toContain("restart the CodeMeter service");
    expect(risk?.advice).toContain("Borrows made before are invisible until that start");
    const verdict = await watch.preflight("restart-service");
    expect(verdict.complete).toBe(false);
  });
});

describe("preflight and maintenance advice for CodeMeter borrows", () => {
  it("refuses each of the nine actions while borrows are out, naming them and the date the last one ends", async () => {
    const { watch, borrows } = await threeBorrows();
    const verdict = await watch.preflight("change-ip");
    expect(verdict.safe).toBe(false);
    expect(verdict.borrows.map((b) => b.borrowId).sort()).toEqual(borrows.map((b) => b.borrowId).sort());
    expect(verdict.borrows.every((b) => b.source === "codemeter")).toBe(true);
    expect(verdict.lastEndsAt).toBe(new Date(Math.max(...borrows.map((b) => b.expiresAt!))).toISOString());
    expect(verdict.reasons).toHaveLength(3);
    expect(verdict.complete).toBe(true);
  });

  it("says safe with nothing out", async () => {
    const { watch } = await watchedWorld();
    for (const action of ["unplug-key", "restart-service", "upgrade-licenses"] as const) {
      expect(await watch.preflight(action)).toMatchObject({ safe: true, borrows: [], lastEndsAt: null });
    }
  });

  it("gives the Maximum Borrow Duration in minutes from now to the window, and the borrows ending after it", async () => {
    const { sim, watch, borrows } = await threeBorrows();
    const at = sim.now() + 20 * DAY + 90 * 60_000;
    const advice = watch.maintenanceAdvice({ at });
    expect(advice.maximumBorrowDurationMinutes).toBe(20 * 24 * 60 + 90);
    expect(advice.setting).toContain(`"Maximum Borrow Duration" to ${20 * 24 * 60 + 90} minutes`);
    // ws-3's borrow (14 days) ends before; the two 30-day ones after.
    expect(advice.borrowsEndingAfter.map((b) => b.borrowId).sort()).toEqual(
      [borrows[0]!.borrowId, borrows[1]!.borrowId].sort(),
    );
    expect(advice.clear).toBe(false);
    expect(watch.maintenanceAdvice({ at: sim.now() - 1 }).maximumBorrowDurationMinutes).toBeNull();
  });
});

describe("openCodeMeterWatch", () => {
  it("builds the watch over a host's real sources (here the simulated installation's paths), positions in the data directory", async () => {
    const { sim } = simWorld();
    sim.advance(60_000);
    const borrow = sim.borrow("ws-1", "anna", 1001);
    const dataDir = tempDir();
    const watch = await openCodeMeterWatch({
      dataDir,
      store: new MemoryObservationStore(),
      platform: "linux",
      serverIni: sim.paths.serverIni,
      cmu: sim.paths.cmu,
      watch: { now: () => sim.now(), runtimePollMs: 3_600_000, configPollMs: 3_600_000, logPollMs: 3_600_000 },
    });
    onCleanup(() => watch.close());
    await watch.start();
    // The log directory comes from LogLicenseTrackingPath in Server.ini.
    expect(watch.view().tracking.dir).toBe(sim.paths.logDir);
    expect(watch.view().borrows.map((b) => b.borrowId)).toEqual([borrow.borrowId]);
    expect(readdirSync(dataDir)).toEqual([POSITIONS_FILE]);
  });
});

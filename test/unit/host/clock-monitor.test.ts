import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CLOCK_STATE_FILE,
  type ClockJumpEvent,
  ClockMonitor,
  type ClockSources,
  FileLastSeenStore,
  MemoryLastSeenStore,
} from "../../../src/host/index.js";

const MINUTE = 60_000;
const T0 = Date.UTC(2025, 2, 1, 10, 0, 0);

/** A wall clock and a monotonic clock that advance together unless told otherwise. */
class TestClocks implements ClockSources {
  wall = T0;
  monotonic = 1_000;
  wallNow = (): number => this.wall;
  monotonicNow = (): number => this.monotonic;
  elapse(ms: number): void {
    this.wall += ms;
    this.monotonic += ms;
  }
  setWall(ms: number): void {
    this.wall = ms;
  }
}

function collect(monitor: ClockMonitor): ClockJumpEvent[] {
  const events: ClockJumpEvent[] = [];
  monitor.jumps$.subscribe((event) => events.push(event));
  return events;
}

describe("ClockMonitor", () => {
  it("stays quiet while both clocks advance together, even across long gaps", async () => {
    const clocks = new TestClocks();
    const monitor = new ClockMonitor(new MemoryLastSeenStore(), { clocks });
    const events = collect(monitor);
    await monitor.start();
    for (let i = 0; i < 5; i += 1) {
      clocks.elapse(3 * 60 * MINUTE);
      await monitor.tick();
    }
    clocks.elapse(1000);
    clocks.setWall(clocks.wall + 14 * MINUTE); // NTP-sized correction below the threshold
    await monitor.tick();
    monitor.close();
    expect(events).toEqual([]);
  });

  it("reports a forward jump of the wall clock", async () => {
    const clocks = new TestClocks();
    const monitor = new ClockMonitor(new MemoryLastSeenStore(), { clocks });
    const events = collect(monitor);
    await monitor.start();
    clocks.elapse(10_000);
    clocks.setWall(clocks.wall + 31 * 24 * 60 * MINUTE);
    const event = await monitor.tick();
    monitor.close();
    expect(event).toEqual({
      type: "clock.jump",
      at: new Date(clocks.wall),
      direction: "forward",
      jumpMs: 31 * 24 * 60 * MINUTE,
      acrossRestart: false,
    });
    expect(events).toEqual([event]);
  });

  it("reports a backward jump, and keeps the last-seen time at its maximum", async () => {
    const clocks = new TestClocks();
    const store = new MemoryLastSeenStore();
    const monitor = new ClockMonitor(store, { clocks });
    const events = collect(monitor);
    await monitor.start();
    clocks.elapse(10_000);
    const highest = clocks.wall;
    await monitor.tick();
    clocks.elapse(10_000);
    clocks.setWall(clocks.wall - 2 * 60 * MINUTE);
    await monitor.tick();
    monitor.close();
    expect(events).toMatchObject([{ direction: "backward", jumpMs: 2 * 60 * MINUTE, acrossRestart: false }]);
    expect(await store.load()).toBe(highest);
  });

  it("honours a configured threshold", async () => {
    const clocks = new TestClocks();
    const monitor = new ClockMonitor(new MemoryLastSeenStore(), { clocks, thresholdMs: MINUTE });
    await monitor.start();
    clocks.setWall(clocks.wall + 2 * MINUTE);
    expect(await monitor.tick()).toMatchObject({ direction: "forward", jumpMs: 2 * MINUTE });
    monitor.close();
  });

  it("reports a backward jump across a restart from the persisted last-seen time", async () => {
    const path = join(await mkdtemp(join(os.tmpdir(), "keybridge-clock-")), CLOCK_STATE_FILE);
    const clocks = new TestClocks();
    const first = new ClockMonitor(new FileLastSeenStore(path), { clocks });
    await first.start();
    clocks.elapse(5 * MINUTE);
    await first.tick();
    first.close();
    const lastSeen = clocks.wall;

    // Host is off; someone sets the clock back by a day; the service starts again.
    const restarted = new TestClocks();
    restarted.setWall(lastSeen - 24 * 60 * MINUTE);
    const second = new ClockMonitor(new FileLastSeenStore(path), { clocks: restarted });
    const events = collect(second);
    const event = await second.start();
    second.close();
    expect(event).toEqual({
      type: "clock.jump",
      at: new Date(restarted.wall),
      direction: "backward",
      jumpMs: 24 * 60 * MINUTE,
      acrossRestart: true,
    });
    expect(events).toEqual([event]);
    expect(second.lastSeenMs).toBe(lastSeen);
  });

  it("starts quietly after a normal restart, and on first start", async () => {
    const store = new MemoryLastSeenStore(T0 - 60 * MINUTE);
    const monitor = new ClockMonitor(store, { clocks: new TestClocks() });
    expect(await monitor.start()).toBeUndefined();
    monitor.close();
    expect(await store.load()).toBe(T0);
    const fresh = new ClockMonitor(new MemoryLastSeenStore(), { clocks: new TestClocks() });
    expect(await fresh.start()).toBeUndefined();
    fresh.close();
  });

  it("refuses to start on a corrupt last-seen file", async () => {
    const path = join(await mkdtemp(join(os.tmpdir(), "keybridge-clock-")), CLOCK_STATE_FILE);
    await writeFile(path, JSON.stringify({ lastSeenMs: "yesterday" }));
    const monitor = new ClockMonitor(new FileLastSeenStore(path), { clocks: new TestClocks() });
    await expect(monitor.start()).rejects.toMatchObject({ code: "HOST_STATE_CORRUPT" });
    monitor.close();
  });
});

describe("FileLastSeenStore", () => {
  it("writes atomically with mode 0600 and reads back what it wrote", async () => {
    const dir = await mkdtemp(join(os.tmpdir(), "keybridge-clock-"));
    const store = new FileLastSeenStore(join(dir, CLOCK_STATE_FILE));
    expect(await store.load()).toBeUndefined();
    await store.save(T0);
    await store.save(T0 + 1);
    expect(await store.load()).toBe(T0 + 1);
    expect(await readdir(dir)).toEqual([CLOCK_STATE_FILE]);
    if (process.platform !== "win32") expect((await stat(store.path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(store.path, "utf8"))).toMatchObject({ lastSeenMs: T0 + 1 });
  });
});

describe("ClockMonitor timer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("ticks at its interval, reports failed saves on errors$, and stops on close", async () => {
    const clocks = new TestClocks();
    let failSave = false;
    const store = {
      load: async () => undefined,
      save: async () => {
        if (failSave) throw new Error("disk full");
      },
    };
    const monitor = new ClockMonitor(store, { clocks, intervalMs: 1000 });
    const events = collect(monitor);
    const errors: string[] = [];
    monitor.errors$.subscribe((error) => errors.push(error.message));
    await monitor.start();
    clocks.setWall(clocks.wall + 20 * MINUTE);
    await vi.advanceTimersByTimeAsync(1000);
    expect(events).toMatchObject([{ direction: "forward" }]);
    failSave = true;
    clocks.elapse(1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(errors).toEqual(["disk full"]);
    monitor.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

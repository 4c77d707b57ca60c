import { firstValueFrom, lastValueFrom, toArray } from "rxjs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type HostChangedEvent,
  type HostIdentity,
  HostMonitor,
  type HostProbe,
  SimulatedHostProbe,
} from "../../../src/host/index.js";
import { sampleIdentity } from "./fixtures.js";

describe("HostMonitor with a simulated host", () => {
  it("emits host.changed naming the IP change, with bindingChanged", async () => {
    const host = await SimulatedHostProbe.open({ initial: { ips: ["192.0.2.10"] } });
    const at = new Date("2025-03-01T10:00:00Z");
    const monitor = new HostMonitor(host, { now: () => at });
    const events: HostChangedEvent[] = [];
    monitor.changes$.subscribe((event) => events.push(event));
    await monitor.start();
    await host.setIp("192.0.2.20");
    await monitor.check();
    monitor.close();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "host.changed",
      at,
      bindingChanged: true,
      changes: [{ component: "ips", before: ["192.0.2.10"], after: ["192.0.2.20"] }],
    });
  });

  it("reports hostname, reinstall and driver removal with the right components", async () => {
    const host = await SimulatedHostProbe.open();
    const monitor = new HostMonitor(host);
    await monitor.start();
    await host.setHostname("renamed");
    const rename = await monitor.check();
    await host.reinstallOs();
    const reinstall = await monitor.check();
    await host.uninstallDriver("codeMeterRuntime");
    const uninstall = await monitor.check();
    monitor.close();
    expect(rename?.changes.map((c) => c.component)).toEqual(["hostname"]);
    expect(reinstall?.changes.map((c) => c.component)).toEqual(["machineId", "osInstallId"]);
    expect(reinstall?.bindingChanged).toBe(true);
    expect(uninstall?.changes.map((c) => c.component)).toEqual(["driver"]);
    expect(uninstall?.bindingChanged).toBe(false);
    expect(uninstall?.after.driver.codeMeterRuntime).toBeUndefined();
  });

  it("emits nothing when the identity is unchanged", async () => {
    const host = await SimulatedHostProbe.open();
    const monitor = new HostMonitor(host);
    await monitor.start();
    expect(await monitor.check()).toBeUndefined();
    monitor.close();
  });

  it("replays the current identity to late subscribers and completes on close", async () => {
    const host = await SimulatedHostProbe.open({ initial: { hostname: "one" } });
    const monitor = new HostMonitor(host);
    await monitor.start();
    expect((await firstValueFrom(monitor.identity$)).hostname).toBe("one");
    const all = lastValueFrom(monitor.identity$.pipe(toArray()));
    await host.setHostname("two");
    await monitor.check();
    monitor.close();
    expect((await all).map((identity) => identity.hostname)).toEqual(["one", "two"]);
    expect(await monitor.check()).toBeUndefined();
  });
});

describe("HostMonitor polling", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("polls at the configured interval and stops after close", async () => {
    let probes = 0;
    let identity = sampleIdentity();
    const probe: HostProbe = {
      probe: async () => {
        probes += 1;
        return identity;
      },
    };
    const monitor = new HostMonitor(probe, { intervalMs: 1000 });
    const events: HostChangedEvent[] = [];
    monitor.changes$.subscribe((event) => events.push(event));
    await monitor.start();
    expect(probes).toBe(1);
    identity = sampleIdentity({ hostname: "moved" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(probes).toBe(2);
    expect(events.map((event) => event.changes[0]?.component)).toEqual(["hostname"]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(probes).toBe(5);
    monitor.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(probes).toBe(5);
  });

  it("reports a failing background probe on errors$ and keeps polling", async () => {
    let fail = false;
    const probe: HostProbe = {
      probe: async (): Promise<HostIdentity> => {
        if (fail) throw new Error("probe broke");
        return sampleIdentity();
      },
    };
    const monitor = new HostMonitor(probe, { intervalMs: 500 });
    const errors: string[] = [];
    monitor.errors$.subscribe((error) => errors.push(error.message));
    await monitor.start();
    fail = true;
    await vi.advanceTimersByTimeAsync(500);
    fail = false;
    await vi.advanceTimersByTimeAsync(500);
    expect(errors).toEqual(["probe broke"]);
    expect(monitor.current).toEqual(sampleIdentity());
    expect(vi.getTimerCount()).toBe(1);
    monitor.close();
  });

  it("rejects start when the first probe fails, without starting a timer", async () => {
    const monitor = new HostMonitor({ probe: () => Promise.reject(new Error("no machine id")) });
    await expect(monitor.start()).rejects.toThrow("no machine id");
    expect(vi.getTimerCount()).toBe(0);
    monitor.close();
  });
});

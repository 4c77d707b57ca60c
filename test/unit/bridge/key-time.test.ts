import { describe, expect, it } from "vitest";
import { demoKey, openVirtual } from "./helpers.js";

// The benchmarks subtract the virtual key's measured time to get keybridge's own share; these
// check that the counters bracket what they claim, without asserting any duration.
describe("virtual key time counters", () => {
  it("at 1 ms per report: busy time covers the wire both ways and the firmware, and grows only while the key works", async () => {
    const bridge = await openVirtual({ virtualLatencyMs: 1 });
    const key = demoKey(bridge);
    const before = { ...key.counters };
    await bridge.borrow({ product: 1001, client: "ws-1" });
    const after = { ...key.counters };
    const delta = (name: keyof typeof before) => after[name] - before[name];
    expect(delta("toKey")).toBeGreaterThan(0);
    expect(delta("toHost")).toBeGreaterThan(0);
    expect(delta("wireMs")).toBeGreaterThan(0);
    expect(delta("answerMs")).toBeGreaterThanOrEqual(0);
    // Busy spans the firmware run and every report's wire time (they do not overlap for one caller).
    expect(delta("busyMs")).toBeGreaterThanOrEqual(delta("firmwareMs"));
    expect(delta("busyMs") + 1e-6).toBeGreaterThanOrEqual(delta("wireMs") * 0.999);
    expect(delta("firmwareMs")).toBeGreaterThanOrEqual(delta("storeMs"));
    // Idle key: nothing accrues.
    const idle = key.counters.busyMs;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(key.counters.busyMs).toBe(idle);
  });

  it("an unplug in the middle of an exchange closes the busy span", async () => {
    const bridge = await openVirtual({ virtualLatencyMs: 1 });
    const key = demoKey(bridge);
    const pending = bridge.borrow({ product: 1001, client: "ws-1" }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 2));
    await bridge.virtual?.unplug("KB-DEMO-0001");
    await pending;
    const frozen = key.counters.busyMs;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(key.counters.busyMs).toBe(frozen);
  });
});

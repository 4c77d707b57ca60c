import { describe, expect, it, vi } from "vitest";
import type { HidBackend } from "../../../src/transport/index.js";
import { openVirtual } from "./helpers.js";

/** A backend whose first `failures` enumerations fail, as udev does while a hub resets. */
function failingFirst(failures: number, calls: { count: number }) {
  return (backend: HidBackend): HidBackend => ({
    ...backend,
    hid: {
      ...backend.hid,
      devicesAsync: async () => {
        calls.count++;
        if (calls.count <= failures) throw Object.assign(new Error("LIBUSB_ERROR_BUSY"), { code: "EBUSY" });
        return backend.hid.devicesAsync();
      },
    },
  });
}

describe("device enumeration that fails", () => {
  it("is retried with a growing delay, so a key present at start is served without any USB event", async () => {
    const calls = { count: 0 };
    // The first retry must come after openBridge resolved, also on a loaded machine: 200 ms, and no
    // CodeMeter detection (its file and PATH lookups) between the key manager's start and the answer.
    const bridge = await openVirtual(
      { codemeter: { mode: "off" } },
      { wrapBackend: failingFirst(2, calls), enumerationRetryMs: 200 },
    );
    expect(bridge.testSeams.keys.servingSessions()).toHaveLength(0);
    await vi.waitFor(() => expect(bridge.testSeams.keys.servingSessions()).toHaveLength(1), { timeout: 5_000 });
    expect(calls.count).toBeGreaterThanOrEqual(3);
    const borrow = await bridge.borrow({ product: 1001, client: "after-retry" });
    expect(borrow.state).toBe("active");
  });

  it("stops retrying when the bridge closes, so the process can exit", async () => {
    const calls = { count: 0 };
    const bridge = await openVirtual({}, { wrapBackend: failingFirst(1_000, calls), enumerationRetryMs: 10 });
    await vi.waitFor(() => expect(calls.count).toBeGreaterThanOrEqual(2));
    await bridge.close();
    const after = calls.count;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls.count).toBe(after);
  });
});

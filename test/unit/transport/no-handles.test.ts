/**
 * Closing a transport, and unsubscribing from the device watch, must leave nothing that keeps
 * node alive: each scenario runs in its own process, which must exit by itself.
 */
import { describe, expect, it } from "vitest";
import { runTypeScriptInChild } from "./child-process.js";

const SETUP = `
import { createDemoKey, createNodeHidStandIn, createUsbStandIn } from "./native-mocks/index.ts";
import { virtualHidBackend } from "./src/transport/backend.ts";
import { listKeys } from "./src/transport/discovery.ts";
import { openHidPort } from "./src/transport/node-hid-port.ts";
import { Transport } from "./src/transport/transport.ts";
import { watchDevices } from "./src/transport/hotplug.ts";
import { connectKey } from "./src/key/key-client.ts";
import { MemoryPinStore } from "./src/key/pin-store.ts";
const { bus, key } = createDemoKey({ latencyMs: 1 });
const backend = virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
`;

describe("no handle left behind", () => {
  it("a process that opens a key, exchanges, times out once and closes exits on its own", async () => {
    const outcome = await runTypeScriptInChild(
      "transport-close",
      `${SETUP}
const [device] = await listKeys(backend);
const transport = await Transport.open(await openHidPort(backend, device));
const client = await connectKey(transport, new MemoryPinStore());
await client.ping(new Uint8Array(600));
key.injectFault({ kind: "stall", ms: 300 });
const timedOut = await client.getTime({ timeoutMs: 50 }).catch((e) => e.code);
await client.close();
bus.close();
process.stdout.write("closed:" + timedOut);
`,
    );
    expect(outcome.killedAtDeadline, outcome.stderr).toBe(false);
    expect(outcome.exitCode, outcome.stderr).toBe(0);
    expect(outcome.stdout).toBe("closed:TRANSPORT_TIMEOUT");
  });

  it("a process still holding a key open does not exit (the check above can fail)", async () => {
    const outcome = await runTypeScriptInChild(
      "transport-held",
      `${SETUP}
const [device] = await listKeys(backend);
const transport = await Transport.open(await openHidPort(backend, device));
setInterval(() => {}, 1000);
process.stdout.write("open:" + transport.channel.protocolVersion);
`,
      3_000,
    );
    expect(outcome.stdout).toBe("open:1");
    expect(outcome.killedAtDeadline).toBe(true);
  });

  it.each([false, true])(
    "watchDevices (polling=%s) releases its listeners and timers on unsubscribe",
    async (polling) => {
      const outcome = await runTypeScriptInChild(
        `watch-${polling}`,
        `${SETUP}
const events = [];
const subscription = watchDevices(backend, { debounceMs: 5, pollMs: 20, polling: ${polling} }).subscribe((e) => events.push(e.type));
await new Promise((r) => setTimeout(r, 60));
bus.unplug(key.serial);
await new Promise((r) => setTimeout(r, 80));
subscription.unsubscribe();
const listeners = backend.usb.usb.listenerCount("attach") + backend.usb.usb.listenerCount("detach");
bus.close();
process.stdout.write(JSON.stringify({ events, listeners }));
`,
      );
      expect(outcome.killedAtDeadline, outcome.stderr).toBe(false);
      expect(outcome.exitCode, outcome.stderr).toBe(0);
      expect(JSON.parse(outcome.stdout)).toEqual({ events: ["attach", "detach"], listeners: 0 });
    },
  );
});

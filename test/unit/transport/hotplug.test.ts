import { firstValueFrom, type Subscription, take, toArray } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { createNodeHidStandIn, createUsbStandIn, VirtualBus } from "../../../native-mocks/index.js";
import { type HidBackend, virtualHidBackend } from "../../../src/transport/backend.js";
import { listCodeMeterSticks, listKeys } from "../../../src/transport/discovery.js";
import { type DeviceEvent, watchDevices } from "../../../src/transport/hotplug.js";

let bus: VirtualBus;
let subscription: Subscription | undefined;

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
  bus?.close();
});

function setup(options: { hidReadyDelayMs?: number } = {}): HidBackend {
  bus = new VirtualBus(options);
  return virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
}

/** Collects events; `next(n)` resolves once n events have arrived in total. */
function collect(backend: HidBackend, options: Parameters<typeof watchDevices>[1]) {
  const events: DeviceEvent[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  subscription = watchDevices(backend, options).subscribe((event) => {
    events.push(event);
    for (const waiter of waiters.filter((w) => events.length >= w.count)) waiter.resolve();
  });
  return {
    events,
    next: (count: number) =>
      new Promise<void>((resolve) => {
        if (events.length >= count) resolve();
        else waiters.push({ count, resolve });
      }),
  };
}

const brief = (events: DeviceEvent[]) => events.map((e) => `${e.type} ${e.kind} ${e.serial}`);

describe("discovery", () => {
  it("lists keybridge keys and CodeMeter sticks apart, including mass-storage sticks", async () => {
    const backend = setup();
    bus.createKey({ serial: "KB-1" });
    bus.addCodeMeterStick({ serial: "3-1234", productId: 0x2af9 });
    bus.addCodeMeterStick({ serial: "1-5678", productId: 0x03e9 });
    expect((await listKeys(backend)).map((d) => d.serial)).toEqual(["KB-1"]);
    const sticks = await listCodeMeterSticks(backend);
    expect(sticks.map((d) => [d.serial, d.productId, d.model])).toEqual([
      ["3-1234", 0x2af9, "CmStick (HID)"],
      ["", 0x03e9, "CmStick (mass storage)"],
    ]);
  });
});

describe("watchDevices", () => {
  it("reports devices already present first, then attach and detach", async () => {
    const backend = setup();
    bus.createKey({ serial: "KB-1" });
    const { events, next } = collect(backend, { debounceMs: 5 });
    await next(1);
    bus.addCodeMeterStick({ serial: "3-1234" });
    await next(2);
    bus.unplug("KB-1");
    await next(3);
    expect(brief(events)).toEqual(["attach keybridge KB-1", "attach codemeter 3-1234", "detach keybridge KB-1"]);
    expect(events[0]?.path).toMatch(/.+/);
    expect(events[0]?.at).toBeInstanceOf(Date);
  });

  it("debounces a burst of USB events into one enumeration", async () => {
    const backend = setup();
    let enumerations = 0;
    const counting: HidBackend = {
      ...backend,
      hid: {
        ...backend.hid,
        devicesAsync: () => {
          enumerations++;
          return backend.hid.devicesAsync();
        },
      },
    };
    const { events, next } = collect(counting, { debounceMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const initial = enumerations;
    for (let i = 0; i < 5; i++) bus.createKey({ serial: `KB-${i}` });
    await next(5);
    // One debounced enumeration saw all five (plus at most the late-node follow-up).
    expect(enumerations - initial).toBeLessThanOrEqual(2);
    expect(new Set(events.map((e) => e.serial)).size).toBe(5);
  });

  it("finds a key whose HID node appears after the USB attach event", async () => {
    const backend = setup({ hidReadyDelayMs: 30 });
    const { events, next } = collect(backend, { debounceMs: 15 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    bus.createKey({ serial: "KB-LATE" });
    await next(1);
    expect(brief(events)).toEqual(["attach keybridge KB-LATE"]);
  });

  it("falls back to polling when hotplug listeners cannot be registered", async () => {
    const backend = setup();
    const usbEvents = backend.usb.usb;
    const broken: HidBackend = {
      ...backend,
      usb: {
        getDeviceList: () => backend.usb.getDeviceList(),
        usb: {
          on: () => {
            throw new Error("hotplug not supported");
          },
          off: (...args: Parameters<typeof usbEvents.off>) => usbEvents.off(...args),
          listenerCount: (name: string | symbol) => usbEvents.listenerCount(name),
        } as unknown as HidBackend["usb"]["usb"],
      },
    };
    const { events, next } = collect(broken, { pollMs: 10 });
    bus.createKey({ serial: "KB-P" });
    await next(1);
    bus.unplug("KB-P");
    await next(2);
    expect(brief(events)).toEqual(["attach keybridge KB-P", "detach keybridge KB-P"]);
  });

  it("removes every USB listener on unsubscribe", async () => {
    const backend = setup();
    bus.createKey({ serial: "KB-1" });
    const first = await firstValueFrom(watchDevices(backend, { debounceMs: 5 }).pipe(take(1), toArray()));
    expect(brief(first)).toEqual(["attach keybridge KB-1"]);
    const usb = backend.usb.usb;
    expect(usb.listenerCount("attach") + usb.listenerCount("detach")).toBe(0);
    const sub = watchDevices(backend).subscribe(() => {});
    expect(usb.listenerCount("attach")).toBe(1);
    sub.unsubscribe();
    expect(usb.listenerCount("attach") + usb.listenerCount("detach")).toBe(0);
  });
});

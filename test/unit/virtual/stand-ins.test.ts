import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDemoKey, DEMO_LICENSES } from "../../../native-mocks/demo.js";
import { createNodeHidStandIn } from "../../../native-mocks/node-hid-stand-in.js";
import { createUsbStandIn } from "../../../native-mocks/usb-stand-in.js";
import { VirtualBus } from "../../../native-mocks/virtual-bus.js";
import {
  BROADCAST_CID,
  CODEMETER_VENDOR_ID,
  decodeFrames,
  decodeInitResponse,
  encodeFrames,
  FrameCommand,
  HID_USAGE_PAGE,
  USB_PRODUCT_ID,
  USB_VENDOR_ID,
} from "../../../src/protocol/index.js";

afterEach(() => {
  vi.useRealTimers();
});

function initWrite(): Buffer {
  return Buffer.concat([Buffer.of(0x00), encodeFrames(BROADCAST_CID, FrameCommand.INIT, randomBytes(8))[0]!]);
}

function nextEvent(emitter: NodeJS.EventEmitter, name: string): Promise<unknown> {
  return new Promise((resolve) => emitter.once(name, resolve));
}

describe("node-hid stand-in", () => {
  it("lists the key like devicesAsync() and talks through write/read with the report id byte", async () => {
    const { bus, key } = createDemoKey();
    const hid = createNodeHidStandIn(bus);
    const [device, ...others] = await hid.devicesAsync(USB_VENDOR_ID, USB_PRODUCT_ID);
    expect(others).toEqual([]);
    expect(device).toMatchObject({ serialNumber: key.serial, usagePage: HID_USAGE_PAGE, interface: 0 });
    const handle = await hid.HIDAsync.open(device!.path);
    expect(await handle.write(initWrite())).toBe(65);
    const report = await handle.read(100);
    expect(report).toHaveLength(64);
    expect(decodeInitResponse(decodeFrames([report]).payload).protocolVersion).toBe(1);
    await handle.close();
  });

  it("read resolves an empty buffer on timeout, never rejects for it", async () => {
    vi.useFakeTimers();
    const { bus } = createDemoKey();
    const hid = createNodeHidStandIn(bus);
    const handle = await hid.HIDAsync.open((await hid.devicesAsync())[0]!.path);
    const read = handle.read(20);
    await vi.advanceTimersByTimeAsync(20);
    const result = await read;
    expect(Buffer.isBuffer(result)).toBe(true);
    expect(result).toHaveLength(0);
  });

  it("rejects writes that are not report id 0x00 plus 64 bytes", async () => {
    const { bus } = createDemoKey();
    const hid = createNodeHidStandIn(bus);
    const handle = await hid.HIDAsync.open((await hid.devicesAsync())[0]!.path);
    await expect(handle.write(new Array(64).fill(0))).rejects.toThrow(/^Cannot write to hid device/);
    await expect(handle.write(Buffer.alloc(66))).rejects.toThrow(/^Cannot write to hid device/);
  });

  it("fails like node-hid on unplug, after close, and for a missing path", async () => {
    const { bus, key } = createDemoKey();
    const hid = createNodeHidStandIn(bus);
    const path = (await hid.devicesAsync())[0]!.path;
    const handle = await hid.HIDAsync.open(path);
    const pending = handle.read(5000);
    bus.unplug(key.serial);
    await expect(pending).rejects.toThrow("could not read data from device");
    await expect(handle.read(10)).rejects.toThrow("could not read data from device");
    await expect(handle.write(initWrite())).rejects.toThrow("Cannot write to hid device");
    await expect(hid.HIDAsync.open(path)).rejects.toThrow(`cannot open device with path ${path}`);
    await handle.close();
    await expect(handle.read(10)).rejects.toThrow("device has been closed");
    await expect(handle.write(initWrite())).rejects.toThrow("device has been closed");

    bus.plug(key.serial);
    const [replugged] = await hid.devicesAsync();
    expect(replugged!.path).not.toBe(path); // a new hidraw node on every enumeration
    const again = await hid.HIDAsync.open(replugged!.path);
    await again.write(initWrite());
    expect(await again.read(100)).toHaveLength(64);
  });

  it("a pending read rejects with 'device has been closed' when the handle closes", async () => {
    const { bus } = createDemoKey();
    const hid = createNodeHidStandIn(bus);
    const handle = await hid.HIDAsync.open((await hid.devicesAsync())[0]!.path);
    const pending = handle.read(5000);
    await handle.close();
    await expect(pending).rejects.toThrow("device has been closed");
  });
});

describe("usb stand-in", () => {
  it("emits attach and detach with usb-shaped devices, and lists plugged devices", async () => {
    const bus = new VirtualBus();
    const { usb, getDeviceList } = createUsbStandIn(bus);
    const attached = nextEvent(usb, "attach");
    bus.createKey({ serial: "KB-U-1", licenses: DEMO_LICENSES });
    const device = (await attached) as ReturnType<typeof getDeviceList>[number];
    expect(device.deviceDescriptor).toMatchObject({
      idVendor: USB_VENDOR_ID,
      idProduct: USB_PRODUCT_ID,
      iSerialNumber: 3,
    });
    expect(device.portNumbers).toHaveLength(1);
    expect(getDeviceList()).toEqual([device]);
    const serial = await new Promise((resolve) =>
      device.getStringDescriptor(device.deviceDescriptor.iSerialNumber, (_e, v) => resolve(v)),
    );
    expect(serial).toBe("KB-U-1");
    const detached = nextEvent(usb, "detach");
    bus.unplug("KB-U-1");
    expect(await detached).toBe(device);
    expect(getDeviceList()).toEqual([]);
  });

  it("starts hotplug with the first listener and stops with the last", () => {
    const bus = new VirtualBus();
    const { usb } = createUsbStandIn(bus);
    const listener = () => {};
    expect(usb.hotplugActive).toBe(false);
    usb.on("attach", listener);
    usb.on("detach", listener);
    usb.off("attach", listener);
    expect(usb.hotplugActive).toBe(true);
    usb.removeListener("detach", listener);
    expect(usb.hotplugActive).toBe(false);
  });

  it("an unplug fault emits detach", async () => {
    const bus = new VirtualBus();
    const { usb } = createUsbStandIn(bus);
    const key = bus.createKey({ serial: "KB-U-2" });
    const detached = nextEvent(usb, "detach");
    key.injectFault({ kind: "unplug", atReport: 1 });
    await key
      .open()
      .write(new Uint8Array(64))
      .catch(() => undefined);
    await detached;
    expect(bus.usbDevices()).toEqual([]);
  });

  it("can announce attach before the HID node is openable", async () => {
    vi.useFakeTimers();
    const bus = new VirtualBus({ hidReadyDelayMs: 30 });
    const { usb } = createUsbStandIn(bus);
    const hid = createNodeHidStandIn(bus);
    const attached = nextEvent(usb, "attach");
    bus.createKey({ serial: "KB-U-3" });
    await vi.advanceTimersByTimeAsync(0);
    await attached;
    expect(await hid.devicesAsync()).toEqual([]);
    await vi.advanceTimersByTimeAsync(30);
    expect((await hid.devicesAsync()).map((d) => d.serialNumber)).toEqual(["KB-U-3"]);
  });
});

describe("CodeMeter sticks", () => {
  it("enumerate with WIBU's ids and never answer", async () => {
    vi.useFakeTimers();
    const bus = new VirtualBus();
    bus.addCodeMeterStick({ serial: "3-1234567", productId: 0x2af9 });
    bus.addCodeMeterStick({ serial: "2-7654321", productId: 0x03e9 }); // mass storage: no HID interface
    expect(bus.usbDevices().map((d) => d.deviceDescriptor.idVendor)).toEqual([
      CODEMETER_VENDOR_ID,
      CODEMETER_VENDOR_ID,
    ]);
    const hid = createNodeHidStandIn(bus);
    const list = await hid.devicesAsync();
    expect(list.map((d) => d.serialNumber)).toEqual(["3-1234567"]);
    const handle = await hid.HIDAsync.open(list[0]!.path);
    await handle.write(initWrite());
    const read = handle.read(500);
    await vi.advanceTimersByTimeAsync(500);
    expect(await read).toHaveLength(0);
    expect(() => bus.addCodeMeterStick({ serial: "x", productId: 0x1234 })).toThrow(/not a known CodeMeter/);
  });
});

describe("VirtualBus.close", () => {
  it("powers every device down without emitting events, failing open handles", async () => {
    const { bus, key } = createDemoKey();
    const { usb } = createUsbStandIn(bus);
    const events: string[] = [];
    usb.on("detach", () => events.push("detach"));
    const hid = createNodeHidStandIn(bus);
    const handle = await hid.HIDAsync.open((await hid.devicesAsync())[0]!.path);
    bus.close();
    expect(key.plugged).toBe(false);
    await expect(handle.read(10)).rejects.toThrow("could not read data from device");
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { createDemoKey, createNodeHidStandIn, createUsbStandIn } from "../../../native-mocks/index.js";
import { type HidAsyncDeviceLike, loadHidBackend, type NodeHidLike } from "../../../src/transport/backend.js";
import { mapHidError, NodeHidPort } from "../../../src/transport/node-hid-port.js";

const INFO = { path: "/dev/hidraw9", serial: "S1", vendorId: 0x1209, productId: 0x0001 };

function fakeHid(device: Partial<HidAsyncDeviceLike>, openError?: Error): NodeHidLike & { writes: Buffer[] } {
  const writes: Buffer[] = [];
  return {
    writes,
    devicesAsync: async () => [],
    HIDAsync: {
      async open() {
        if (openError) throw openError;
        return {
          write: async (values: number[] | Buffer) => {
            writes.push(Buffer.from(values as Buffer));
            return 65;
          },
          read: async () => Buffer.alloc(0),
          close: async () => {},
          ...device,
        };
      },
    },
  };
}

const report = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

describe("NodeHidPort", () => {
  it("writes the 0x00 report id followed by the 64-byte report", async () => {
    const hid = fakeHid({});
    const port = await NodeHidPort.open(hid, INFO);
    await port.write(report);
    expect(hid.writes).toHaveLength(1);
    expect([...hid.writes[0]!]).toEqual([0, ...report]);
  });

  it("treats an empty buffer from read as a timeout", async () => {
    const port = await NodeHidPort.open(fakeHid({ read: async () => Buffer.alloc(0) }), INFO);
    expect(await port.read(5)).toBeUndefined();
  });

  it("strips a leading report id on platforms that return 65 bytes", async () => {
    const port = await NodeHidPort.open(fakeHid({ read: async () => Buffer.from([0, ...report]) }), INFO);
    expect(await port.read(5)).toEqual(report);
  });

  it("returns 64-byte reads unchanged", async () => {
    const port = await NodeHidPort.open(fakeHid({ read: async () => Buffer.from(report) }), INFO);
    expect(await port.read(5)).toEqual(report);
  });

  it.each([
    ["could not read data from device", "read", "KEY_DISCONNECTED"],
    ["Cannot write to hid device", "write", "KEY_DISCONNECTED"],
    ["device has been closed", "read", "KEY_DISCONNECTED"],
    ["something unexpected", "read", "HID_IO_FAILED"],
  ] as const)("maps node-hid's %j on %s to %s", async (text, operation, code) => {
    const failing = async () => {
      throw new Error(text);
    };
    const port = await NodeHidPort.open(fakeHid({ read: failing, write: failing }), INFO);
    const call = operation === "read" ? port.read(5) : port.write(report);
    await expect(call).rejects.toMatchObject({ code });
  });

  it("maps 'cannot open device' to KEY_ACCESS_DENIED with udev advice", async () => {
    const error = (await NodeHidPort.open(
      fakeHid({}, new Error("cannot open device with path /dev/hidraw9")),
      INFO,
    ).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code: string };
    expect(error.code).toBe("KEY_ACCESS_DENIED");
    expect(error.message).toMatch(/udev/);
    expect(error.message).toMatch(/keybridge group/);
  });

  it("keeps the original node-hid error as the cause", () => {
    const original = new Error("could not read data from device");
    expect(mapHidError(original, "read", "/dev/x").cause).toBe(original);
  });

  it("reports KEY_DISCONNECTED from the stand-in when the virtual key is pulled out mid-read", async () => {
    const { bus, key } = createDemoKey();
    const hid = createNodeHidStandIn(bus);
    const [device] = await hid.devicesAsync();
    const port = await NodeHidPort.open(hid, {
      path: device!.path,
      serial: device!.serialNumber,
      vendorId: device!.vendorId,
      productId: device!.productId,
    });
    const pending = port.read(1_000);
    key.unplug();
    await expect(pending).rejects.toMatchObject({ code: "KEY_DISCONNECTED" });
    await port.close();
    void createUsbStandIn;
    bus.close();
  });
});

describe("loadHidBackend", () => {
  it("loads the real node-hid and usb modules lazily, once", async () => {
    const first = await loadHidBackend();
    expect(first.kind).toBe("real");
    expect(typeof first.hid.devicesAsync).toBe("function");
    expect(typeof first.usb.getDeviceList).toBe("function");
    expect(await loadHidBackend()).toBe(first);
  });
});

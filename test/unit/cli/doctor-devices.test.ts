import { EventEmitter } from "node:events";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ownAccessProblem, serviceAccessProblem } from "../../../src/cli/doctor/device-access.js";
import { checkDevices } from "../../../src/cli/doctor/devices-check.js";
import { listUsbDevices } from "../../../src/cli/doctor/local-access.js";
import { CODEMETER_VENDOR_ID, HID_USAGE_PAGE, USB_PRODUCT_ID, USB_VENDOR_ID } from "../../../src/protocol/constants.js";
import type { HidBackend, HidDeviceEntry } from "../../../src/transport/backend.js";
import { HidBackendUnavailable } from "../../../src/transport/errors.js";

const key = (path: string, serial: string): HidDeviceEntry => ({
  vendorId: USB_VENDOR_ID,
  productId: USB_PRODUCT_ID,
  usagePage: HID_USAGE_PAGE,
  path,
  serialNumber: serial,
  product: "keybridge key",
});

/** A backend that lists devices; opening one fails the test, since doctor must never open a key. */
function fakeBackend(entries: HidDeviceEntry[], usbIds: [number, number][] = []): HidBackend {
  return {
    kind: "real",
    hid: {
      devicesAsync: async () => entries,
      HIDAsync: {
        open: async () => {
          throw new Error("doctor opened a device");
        },
      },
    },
    usb: {
      usb: new EventEmitter(),
      getDeviceList: () =>
        usbIds.map(([idVendor, idProduct]) => ({
          busNumber: 1,
          portNumbers: [2],
          deviceDescriptor: { idVendor, idProduct },
        })),
    },
  };
}

describe("devices check", () => {
  it("warns to plug in the key when nothing is found", async () => {
    const result = await checkDevices({ platform: "linux", listDevices: () => listUsbDevices(fakeBackend([])) });
    expect(result.status).toBe("warn");
    expect(result.fix).toMatch(/plug in the key/);
  });

  it("fails with the udev and group fix when a key's node cannot be read and written", async () => {
    const checked: string[] = [];
    const result = await checkDevices({
      platform: "linux",
      listDevices: () => listUsbDevices(fakeBackend([key("/dev/hidraw3", "KB-0042")])),
      accessProblem: async (path) => {
        checked.push(path);
        return "EACCES";
      },
      shippedRulesFile: "/opt/keybridge/udev/70-keybridge.rules",
    });
    expect(checked).toEqual(["/dev/hidraw3"]);
    expect(result.status).toBe("fail");
    expect(result.detail).toMatch(/cannot open keybridge key KB-0042 \(\/dev\/hidraw3\): EACCES/);
    expect(result.detail).toMatch(/permissions problem/);
    expect(result.fix).toContain("udevadm control --reload-rules && sudo udevadm trigger");
    expect(result.fix).toContain("usermod -aG keybridge");
  });

  it("reports keys and CodeMeter sticks found and accessible", async () => {
    const result = await checkDevices({
      platform: "linux",
      listDevices: () => listUsbDevices(fakeBackend([key("/dev/hidraw0", "KB-0001")], [[CODEMETER_VENDOR_ID, 0x03e9]])),
      accessProblem: async () => undefined,
    });
    expect(result.status).toBe("ok");
    expect(result.detail).toMatch(/1 keybridge key: keybridge key KB-0001 \(\/dev\/hidraw0\)/);
    expect(result.detail).toMatch(/1 CodeMeter stick: CmStick/);
    expect(result.detail).toMatch(/read\/write access ok/);
  });

  it("does not test access where the path is not a device node (macOS, Windows)", async () => {
    let asked = false;
    const result = await checkDevices({
      platform: "darwin",
      listDevices: () => listUsbDevices(fakeBackend([key("IOService:/AppleARMPE/usb/keybridge", "KB-0001")])),
      accessProblem: async () => {
        asked = true;
        return "unexpected";
      },
    });
    expect(asked).toBe(false);
    expect(result.status).toBe("ok");
  });

  it("fails with a finding, not a crash, when USB enumeration fails", async () => {
    const backend = fakeBackend([]);
    const broken: HidBackend = {
      ...backend,
      usb: {
        ...backend.usb,
        getDeviceList: () => {
          throw new Error("LIBUSB_ERROR_OTHER");
        },
      },
    };
    const result = await checkDevices({ platform: "linux", listDevices: () => listUsbDevices(broken) });
    expect(result.status).toBe("fail");
    expect(result.detail).toMatch(/cannot list USB devices: .*LIBUSB_ERROR_OTHER/);
  });

  it("fails, pointing at the native modules, when USB HID does not load", async () => {
    const result = await checkDevices({
      platform: "linux",
      listDevices: async () => {
        throw new HidBackendUnavailable({ cause: new Error("libusb-1.0.so.0: cannot open shared object file") });
      },
    });
    expect(result.status).toBe("fail");
    expect(result.detail).toBe("USB HID is unavailable: libusb-1.0.so.0: cannot open shared object file");
    expect(result.fix).toMatch(/native-modules/);
  });
});

describe("device node access without opening the node", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kb-doctor-node-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const node = (mode: number, gid?: number) => {
    const path = join(dir, `hidraw${mode.toString(8)}`);
    writeFileSync(path, "");
    chmodSync(path, mode);
    if (gid !== undefined) chownSync(path, process.getuid?.() ?? 0, gid);
    return path;
  };

  it("reports this user's missing access by its error code", async () => {
    expect(await ownAccessProblem(join(dir, "absent"))).toBe("ENOENT");
    expect(await ownAccessProblem(node(0o600))).toBeUndefined();
  });

  it.runIf(process.getuid?.() === 0)("for root, asks whether the keybridge service could open the node", async () => {
    const groupFile = async () => "root:x:0:\nkeybridge:x:991:\n";
    const problem = serviceAccessProblem(groupFile);
    expect(await problem(node(0o600, 0))).toMatch(
      /not readable and writable by the keybridge service \(gid 0, mode 0600\)/,
    );
    expect(await problem(node(0o660, 991))).toBeUndefined();
    expect(await problem(node(0o640, 991))).toMatch(/mode 0640/);
    expect(await problem(node(0o666, 0))).toBeUndefined();
  });
});

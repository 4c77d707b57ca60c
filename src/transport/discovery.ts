import {
  CODEMETER_PRODUCT_IDS,
  CODEMETER_VENDOR_ID,
  HID_USAGE_PAGE,
  USB_PRODUCT_ID,
  USB_VENDOR_ID,
} from "../protocol/constants.js";
import type { HidBackend, HidDeviceEntry, UsbDeviceLike } from "./backend.js";
import { HidIoError } from "./errors.js";

export type DeviceKind = "keybridge" | "codemeter";

/** A device found on the bus. `path` is what `openHidPort` takes (for keybridge keys). */
export interface DiscoveredDevice {
  readonly kind: DeviceKind;
  readonly path: string;
  /** Empty when the OS does not report one (CodeMeter sticks in mass-storage mode). */
  readonly serial: string;
  readonly vendorId: number;
  readonly productId: number;
  readonly model: string;
}

const CODEMETER_MODELS = new Map(CODEMETER_PRODUCT_IDS.map((entry) => [entry.pid, entry.model]));

export function isKeybridgeKey(entry: HidDeviceEntry): boolean {
  // hidapi's libusb backend and old versions report no usage page (undefined or 0); the
  // VID/PID pair is then the only evidence, and a keybridge key has a single interface.
  const usagePageMatches = entry.usagePage === undefined || entry.usagePage === 0 || entry.usagePage === HID_USAGE_PAGE;
  return entry.vendorId === USB_VENDOR_ID && entry.productId === USB_PRODUCT_ID && usagePageMatches;
}

export function isCodeMeterStick(vendorId: number, productId: number): boolean {
  return vendorId === CODEMETER_VENDOR_ID && CODEMETER_MODELS.has(productId);
}

async function hidDevices(backend: HidBackend): Promise<HidDeviceEntry[]> {
  try {
    return await backend.hid.devicesAsync();
  } catch (error) {
    throw new HidIoError("enumeration", { cause: error });
  }
}

function keysIn(entries: readonly HidDeviceEntry[]): DiscoveredDevice[] {
  const keys: DiscoveredDevice[] = [];
  for (const entry of entries) {
    if (entry.path === undefined || !isKeybridgeKey(entry)) continue;
    keys.push({
      kind: "keybridge",
      path: entry.path,
      serial: entry.serialNumber ?? "",
      vendorId: entry.vendorId,
      productId: entry.productId,
      model: entry.product ?? "keybridge key",
    });
  }
  return keys;
}

function usbPath(device: UsbDeviceLike): string {
  const ports = device.portNumbers !== undefined && device.portNumbers.length > 0 ? device.portNumbers.join(".") : "";
  return `usb:${device.busNumber ?? 0}-${ports || (device.deviceAddress ?? 0)}`;
}

/**
 * CodeMeter sticks: HID-mode sticks from the HID list (with serial); sticks in mass-storage
 * mode are not HID devices, so they come from the USB list, without a serial (reading it
 * would mean opening the device, which keybridge never does to a stick).
 */
function sticksIn(entries: readonly HidDeviceEntry[], usbDevices: readonly UsbDeviceLike[]): DiscoveredDevice[] {
  const sticks: DiscoveredDevice[] = [];
  const seenHid = new Set<number>();
  for (const entry of entries) {
    if (entry.path === undefined || !isCodeMeterStick(entry.vendorId, entry.productId)) continue;
    seenHid.add(entry.productId);
    sticks.push({
      kind: "codemeter",
      path: entry.path,
      serial: entry.serialNumber ?? "",
      vendorId: entry.vendorId,
      productId: entry.productId,
      model: CODEMETER_MODELS.get(entry.productId) ?? "CmStick",
    });
  }
  for (const device of usbDevices) {
    const { idVendor, idProduct } = device.deviceDescriptor;
    // A HID-mode stick appears in both lists; keep the HID entry, which has the serial.
    if (!isCodeMeterStick(idVendor, idProduct) || seenHid.has(idProduct)) continue;
    sticks.push({
      kind: "codemeter",
      path: usbPath(device),
      serial: "",
      vendorId: idVendor,
      productId: idProduct,
      model: CODEMETER_MODELS.get(idProduct) ?? "CmStick",
    });
  }
  return sticks;
}

function usbDevices(backend: HidBackend): UsbDeviceLike[] {
  try {
    return backend.usb.getDeviceList();
  } catch (error) {
    throw new HidIoError("USB enumeration", { cause: error });
  }
}

/** keybridge-protocol keys present now (VID 0x1209, PID 0x0001, usage page 0xFF4B). */
export async function listKeys(backend: HidBackend): Promise<DiscoveredDevice[]> {
  return keysIn(await hidDevices(backend));
}

/** CodeMeter sticks present now: recognised and watched, never opened. */
export async function listCodeMeterSticks(backend: HidBackend): Promise<DiscoveredDevice[]> {
  return sticksIn(await hidDevices(backend), usbDevices(backend));
}

/** Both kinds from one enumeration (what hotplug diffs). */
export async function listAllDevices(backend: HidBackend): Promise<DiscoveredDevice[]> {
  const entries = await hidDevices(backend);
  return [...keysIn(entries), ...sticksIn(entries, usbDevices(backend))];
}

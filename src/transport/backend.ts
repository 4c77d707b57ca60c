import type { EventEmitter } from "node:events";
import { HidBackendUnavailable } from "./errors.js";

/** The part of a node-hid 3 `Device` entry that keybridge reads. */
export interface HidDeviceEntry {
  readonly vendorId: number;
  readonly productId: number;
  readonly path?: string | undefined;
  readonly serialNumber?: string | undefined;
  readonly product?: string | undefined;
  readonly usagePage?: number | undefined;
  readonly usage?: number | undefined;
  readonly interface?: number | undefined;
}

/** The part of node-hid's `HIDAsync` device that keybridge uses. */
export interface HidAsyncDeviceLike {
  write(values: number[] | Buffer): Promise<number>;
  read(timeoutMs?: number): Promise<Buffer | Uint8Array | number[] | undefined>;
  close(): Promise<void>;
}

/** The part of the node-hid module that keybridge uses: HIDAsync only. */
export interface NodeHidLike {
  devicesAsync(): Promise<HidDeviceEntry[]>;
  readonly HIDAsync: { open(path: string): Promise<HidAsyncDeviceLike> };
}

/** The part of a `usb` Device that discovery reads. */
export interface UsbDeviceLike {
  readonly busNumber?: number;
  readonly deviceAddress?: number;
  readonly portNumbers?: readonly number[];
  readonly deviceDescriptor: { readonly idVendor: number; readonly idProduct: number };
}

/** The part of the `usb` module that hotplug uses. */
export interface UsbLike {
  /** Emits "attach" and "detach"; native hotplug starts with the first listener. */
  readonly usb: Pick<EventEmitter, "on" | "off" | "listenerCount"> & { pollHotplug?: boolean };
  getDeviceList(): UsbDeviceLike[];
}

/**
 * Everything the transport needs from the outside world. Whoever constructs the backend picks
 * real or virtual; nothing patches modules.
 */
export interface HidBackend {
  readonly hid: NodeHidLike;
  readonly usb: UsbLike;
  readonly kind: "real" | "virtual";
}

/** Wraps the native-mocks stand-ins (or any structurally equal objects). */
export function virtualHidBackend(hid: NodeHidLike, usb: UsbLike): HidBackend {
  return { hid, usb, kind: "virtual" };
}

let realBackend: Promise<HidBackend> | undefined;

/**
 * Loads node-hid and usb on first use. The import is dynamic so that a machine without
 * libusb can still run keybridge in virtual mode; a failed load is reported as
 * `HidBackendUnavailable` and retried on the next call.
 */
export function loadHidBackend(): Promise<HidBackend> {
  if (realBackend === undefined) {
    realBackend = importRealBackend().catch((error: unknown) => {
      realBackend = undefined;
      throw error instanceof HidBackendUnavailable ? error : new HidBackendUnavailable({ cause: error });
    });
  }
  return realBackend;
}

async function importRealBackend(): Promise<HidBackend> {
  const hidModule = (await import("node-hid")) as unknown as NodeHidLike & { default?: NodeHidLike };
  const usbModule = (await import("usb")) as unknown as UsbLike & { default?: UsbLike };
  const hid = typeof hidModule.devicesAsync === "function" ? hidModule : hidModule.default;
  const usb = usbModule.usb !== undefined ? usbModule : usbModule.default;
  if (hid === undefined || usb === undefined) throw new HidBackendUnavailable();
  return { hid, usb, kind: "real" };
}

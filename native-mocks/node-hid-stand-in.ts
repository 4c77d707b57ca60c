import { EventEmitter } from "node:events";
import { REPORT_SIZE } from "../src/protocol/index.js";
import { isVirtualKeyError, VirtualKeyErrorCode } from "./errors.js";
import type { HostPort } from "./host-port.js";
import type { VirtualBus, VirtualHidDeviceInfo } from "./virtual-bus.js";

/** A write is the report id byte (0x00: this device does not number its reports) and the 64-byte report. */
export const WRITE_LENGTH = REPORT_SIZE + 1;

// The texts node-hid 3 (HIDAsync.cc) uses; a transport maps these, so they must match exactly.
const CLOSED = "device has been closed";
const READ_FAILED = "could not read data from device";
const WRITE_FAILED = "Cannot write to hid device";

/** The part of node-hid's HIDAsync a transport uses, over a virtual bus. */
export class HidAsyncStandIn extends EventEmitter {
  private closed = false;

  constructor(
    private readonly port: HostPort,
    private readonly info: VirtualHidDeviceInfo,
  ) {
    super();
  }

  /** `data[0]` is the report id (0x00), then 64 bytes. Resolves with the number of bytes written. */
  async write(data: number[] | Buffer): Promise<number> {
    if (this.closed) throw new TypeError(CLOSED);
    const bytes = Array.isArray(data) ? Uint8Array.from(data) : data;
    if (bytes.length !== WRITE_LENGTH || bytes[0] !== 0x00) {
      throw new Error(
        `${WRITE_FAILED}: expected report id 0x00 and ${REPORT_SIZE} bytes (${WRITE_LENGTH} in total), got ${bytes.length} bytes`,
      );
    }
    try {
      await this.port.write(bytes.subarray(1));
    } catch (error) {
      throw this.mapError(error, WRITE_FAILED);
    }
    return WRITE_LENGTH;
  }

  /** The next 64-byte input report, or an EMPTY buffer when `timeoutMs` passes first (never a rejection for a timeout). */
  async read(timeoutMs?: number): Promise<Buffer> {
    if (this.closed) throw new TypeError(CLOSED);
    let report: Uint8Array | undefined;
    try {
      report = await this.port.read(timeoutMs === undefined ? -1 : timeoutMs);
    } catch (error) {
      throw this.mapError(error, READ_FAILED);
    }
    return report === undefined ? Buffer.alloc(0) : Buffer.from(report);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
    this.removeAllListeners();
  }

  async getDeviceInfo(): Promise<VirtualHidDeviceInfo> {
    if (this.closed) throw new TypeError(CLOSED);
    return { ...this.info };
  }

  async setNonBlocking(_noBlock: boolean): Promise<void> {
    if (this.closed) throw new TypeError(CLOSED);
  }

  /** node-hid's "data" event reader is not modelled: use read(). */
  pause(): void {}

  resume(): void {}

  private mapError(error: unknown, text: string): Error {
    if (isVirtualKeyError(error, VirtualKeyErrorCode.PORT_CLOSED)) return new Error(CLOSED);
    if (isVirtualKeyError(error, VirtualKeyErrorCode.DEVICE_UNPLUGGED)) return new Error(text);
    return error instanceof Error ? error : new Error(text);
  }
}

export interface NodeHidStandIn {
  devicesAsync(vendorId?: number, productId?: number): Promise<VirtualHidDeviceInfo[]>;
  readonly HIDAsync: {
    open(pathOrVendorId: string | number, productIdOrOptions?: number | object): Promise<HidAsyncStandIn>;
  };
}

/** Stands in for `import * as HID from "node-hid"` (HIDAsync and devicesAsync only) over `bus`. */
export function createNodeHidStandIn(bus: VirtualBus): NodeHidStandIn {
  const list = (vendorId?: number, productId?: number) =>
    bus
      .hidDevices()
      .filter(
        (device) =>
          (vendorId === undefined || device.vendorId === vendorId) &&
          (productId === undefined || device.productId === productId),
      );
  return {
    async devicesAsync(vendorId?: number, productId?: number) {
      return list(vendorId, productId);
    },
    HIDAsync: {
      async open(pathOrVendorId, productIdOrOptions) {
        const info =
          typeof pathOrVendorId === "string"
            ? list().find((device) => device.path === pathOrVendorId)
            : list(pathOrVendorId, typeof productIdOrOptions === "number" ? productIdOrOptions : undefined)[0];
        if (info === undefined) {
          throw new Error(
            typeof pathOrVendorId === "string"
              ? `cannot open device with path ${pathOrVendorId}`
              : `cannot open device with vendor id 0x${pathOrVendorId.toString(16)} and product id 0x${(typeof productIdOrOptions === "number" ? productIdOrOptions : 0).toString(16)}`,
          );
        }
        return new HidAsyncStandIn(bus.openHid(info.path), info);
      },
    },
  };
}

import { REPORT_SIZE } from "../protocol/constants.js";
import type { HidAsyncDeviceLike, HidBackend, NodeHidLike } from "./backend.js";
import { HidIoError, KeyAccessDenied, KeyDisconnected, messageOf } from "./errors.js";
import type { HidPort, HidPortInfo } from "./hid-port.js";

/** node-hid's error strings when the device goes away under a read, write or close. */
const DISCONNECT_MESSAGES = ["could not read data from device", "cannot write to hid device", "device has been closed"];
const ACCESS_MESSAGES = ["cannot open device"];

/** Maps whatever node-hid threw into one of the transport's typed errors. */
export function mapHidError(error: unknown, operation: "open" | "read" | "write" | "close", path: string): Error {
  if (error instanceof KeyDisconnected || error instanceof KeyAccessDenied) return error;
  const message = messageOf(error).toLowerCase();
  if (DISCONNECT_MESSAGES.some((text) => message.includes(text))) {
    return new KeyDisconnected(`the key at ${path} was disconnected (${operation})`, { cause: error });
  }
  if (ACCESS_MESSAGES.some((text) => message.includes(text))) return new KeyAccessDenied(path, { cause: error });
  return new HidIoError(operation, { cause: error, details: { path } });
}

/**
 * HidPort over node-hid 3's HIDAsync. Reports go out with a leading 0x00 report id (keybridge
 * keys do not number their reports) and come back with it stripped where the platform keeps it.
 */
export class NodeHidPort implements HidPort {
  private closed = false;

  private constructor(
    private readonly device: HidAsyncDeviceLike,
    readonly info: HidPortInfo,
  ) {}

  static async open(hid: NodeHidLike, info: HidPortInfo): Promise<NodeHidPort> {
    try {
      return new NodeHidPort(await hid.HIDAsync.open(info.path), info);
    } catch (error) {
      throw mapHidError(error, "open", info.path);
    }
  }

  async write(report: Uint8Array): Promise<void> {
    if (this.closed) throw new KeyDisconnected(`the port to ${this.info.path} is closed`);
    if (report.length !== REPORT_SIZE)
      throw new RangeError(`report of ${report.length} bytes, expected ${REPORT_SIZE}`);
    // A fresh buffer per write: a stand-in (or a future backend) may keep a reference to it.
    const outgoing = Buffer.allocUnsafe(REPORT_SIZE + 1);
    outgoing[0] = 0x00;
    outgoing.set(report, 1);
    try {
      await this.device.write(outgoing);
    } catch (error) {
      throw mapHidError(error, "write", this.info.path);
    }
  }

  async read(timeoutMs: number): Promise<Uint8Array | undefined> {
    if (this.closed) throw new KeyDisconnected(`the port to ${this.info.path} is closed`);
    let data: Buffer | Uint8Array | number[] | undefined;
    try {
      data = await this.device.read(Math.max(0, Math.ceil(timeoutMs)));
    } catch (error) {
      throw mapHidError(error, "read", this.info.path);
    }
    // node-hid resolves an empty buffer (or nothing) when the timeout passes.
    if (data === undefined || data.length === 0) return undefined;
    // A plain Uint8Array view (no copy): Buffer's slice() shares memory, Uint8Array's copies, and
    // the protocol layer relies on the latter.
    const bytes =
      data instanceof Uint8Array
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : Uint8Array.from(data);
    // Some platforms hand back the report-id byte in front of the 64 bytes.
    if (bytes.length === REPORT_SIZE + 1 && bytes[0] === 0x00) return bytes.subarray(1);
    return bytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.device.close();
    } catch (error) {
      const mapped = mapHidError(error, "close", this.info.path);
      // Closing a device that is already gone is the normal end of an unplug.
      if (!(mapped instanceof KeyDisconnected)) throw mapped;
    }
  }
}

/** Opens a HidPort on the device at `info.path` through the given backend. */
export function openHidPort(backend: HidBackend, info: HidPortInfo): Promise<HidPort> {
  return NodeHidPort.open(backend.hid, info);
}

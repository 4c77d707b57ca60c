/**
 * Serves the virtual key's firmware on a Linux USB HID gadget (configfs + f_hid): the kernel's
 * dummy_hcd, or a real device controller, then presents it to a host exactly like a hardware
 * key. Output reports are read from the gadget's character device (`/dev/hidgN`), fed to the
 * same `KeyFirmware` the virtual bus runs, and the firmware's input reports are written back.
 *
 * What f_hid does at an unplug (UDC cleared) decides the design:
 * - a read already waiting on `/dev/hidgN` is NOT woken; it waits through the unplug and carries
 *   on after the replug. So the port does not learn about the unplug from its reads; it watches
 *   the UDC's bus state in sysfs instead, as a real key notices its supply going away;
 * - a write while unbound waits until the function is enabled again;
 * - reads and writes that do fail (ESHUTDOWN, EIO, ENODEV, ...) make the port close the node and
 *   reopen it once it can.
 * A key that loses its supply reboots: channels and anything in flight are gone, the stored state
 * (borrows, clock offset) stays. The port does the same when the bus state says unpowered.
 *
 * Reads on the node block a libuv thread-pool thread for as long as the host sends nothing, and
 * closing the descriptor does not wake it. Node joins its thread pool when the process exits, so
 * an exit (`process.exit` included) waits for that read forever: a process serving a gadget ends
 * by a signal's default action instead (`keybridge key serve` re-raises the SIGTERM it got).
 */
import {
  close,
  mkdirSync,
  open,
  read,
  readFileSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  write,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { HID_REPORT_DESCRIPTOR, REPORT_SIZE, USB_PRODUCT_ID, USB_VENDOR_ID } from "../src/protocol/constants.js";
import { type HoldRequest, KeyFirmware, type KeySnapshot } from "./firmware/firmware.js";
import type { NewKeyOptions } from "./firmware/key-state.js";
import type { KeyStore } from "./key-store.js";

// --- gadget parameters ------------------------------------------------------------------------

/** Everything configfs needs to present a keybridge key, derived from the protocol and the key. */
export interface GadgetParameters {
  readonly idVendor: number;
  readonly idProduct: number;
  /** Device release: the firmware version as BCD major.minor (1.2.x → 0x0102). */
  readonly bcdDevice: number;
  readonly bcdUSB: number;
  readonly serialNumber: string;
  readonly manufacturer: string;
  readonly product: string;
  /** f_hid: no boot protocol, no subclass (a vendor-defined usage page). */
  readonly protocol: number;
  readonly subclass: number;
  readonly reportLength: number;
  readonly reportDescriptor: Uint8Array;
  readonly configuration: string;
  /** In mA. */
  readonly maxPower: number;
}

export interface GadgetIdentity {
  readonly manufacturer?: string;
  readonly product?: string;
}

/** The key's side of its USB identity; `KeyFirmware.snapshot()` has both fields. */
export interface GadgetKeyState {
  readonly serial: string;
  readonly firmwareVersion: string;
}

const DEFAULT_IDENTITY = { manufacturer: "keybridge", product: "keybridge key" } as const;

export function gadgetParameters(key: GadgetKeyState, identity: GadgetIdentity = {}): GadgetParameters {
  return {
    idVendor: USB_VENDOR_ID,
    idProduct: USB_PRODUCT_ID,
    bcdDevice: firmwareBcd(key.firmwareVersion),
    bcdUSB: 0x0200,
    serialNumber: key.serial,
    manufacturer: identity.manufacturer ?? DEFAULT_IDENTITY.manufacturer,
    product: identity.product ?? DEFAULT_IDENTITY.product,
    protocol: 0,
    subclass: 0,
    reportLength: REPORT_SIZE,
    reportDescriptor: Uint8Array.from(HID_REPORT_DESCRIPTOR),
    configuration: "keybridge key",
    maxPower: 100,
  };
}

/** "1.2.3" → 0x0102; parts beyond two BCD digits are clamped to 99. */
export function firmwareBcd(version: string): number {
  const [major = 0, minor = 0] = version.split(".").map((part) => Math.min(99, Number.parseInt(part, 10) || 0));
  const bcd = (n: number): number => (Math.floor(n / 10) << 4) | (n % 10);
  return (bcd(major) << 8) | bcd(minor);
}

/** One step of building a gadget in configfs, relative to the gadget's directory, in order. */
export type ConfigfsEntry =
  | { readonly kind: "dir"; readonly path: string }
  | { readonly kind: "file"; readonly path: string; readonly value: string | Uint8Array }
  | { readonly kind: "link"; readonly path: string; readonly target: string };

const FUNCTION = "functions/hid.usb0";
const CONFIG = "configs/c.1";
const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, "0")}`;

/** The configfs directories, attribute writes and the function link, in the order the kernel accepts them. */
export function configfsEntries(params: GadgetParameters): ConfigfsEntry[] {
  const file = (path: string, value: string | Uint8Array): ConfigfsEntry => ({ kind: "file", path, value });
  const dir = (path: string): ConfigfsEntry => ({ kind: "dir", path });
  return [
    file("idVendor", hex4(params.idVendor)),
    file("idProduct", hex4(params.idProduct)),
    file("bcdDevice", hex4(params.bcdDevice)),
    file("bcdUSB", hex4(params.bcdUSB)),
    dir("strings/0x409"),
    file("strings/0x409/serialnumber", params.serialNumber),
    file("strings/0x409/manufacturer", params.manufacturer),
    file("strings/0x409/product", params.product),
    dir(FUNCTION),
    file(`${FUNCTION}/protocol`, String(params.protocol)),
    file(`${FUNCTION}/subclass`, String(params.subclass)),
    file(`${FUNCTION}/report_length`, String(params.reportLength)),
    file(`${FUNCTION}/report_desc`, params.reportDescriptor),
    dir(`${CONFIG}/strings/0x409`),
    file(`${CONFIG}/strings/0x409/configuration`, params.configuration),
    file(`${CONFIG}/MaxPower`, String(params.maxPower)),
    { kind: "link", path: `${CONFIG}/hid.usb0`, target: FUNCTION },
  ];
}

/** One step of removing the gadget, relative to its directory, in order. */
export type ConfigfsRemoval =
  | { readonly kind: "unlink"; readonly path: string }
  | { readonly kind: "rmdir"; readonly path: string };

/**
 * What `configfsEntries` made, undone in the order configfs requires: the function link out of
 * the configuration, then each directory created, innermost first. Attribute files and the
 * default groups (strings/, configs/, functions/) go with the directory that holds them.
 */
export function configfsRemovals(): ConfigfsRemoval[] {
  return [
    { kind: "unlink", path: `${CONFIG}/hid.usb0` },
    { kind: "rmdir", path: `${CONFIG}/strings/0x409` },
    { kind: "rmdir", path: CONFIG },
    { kind: "rmdir", path: FUNCTION },
    { kind: "rmdir", path: "strings/0x409" },
    { kind: "rmdir", path: "" },
  ];
}

export const GadgetErrorCode = {
  /** A configfs write failed: module not loaded, gadget already bound, attribute refused. */
  CONFIGFS_FAILED: "GADGET_CONFIGFS_FAILED",
} as const;
export type GadgetErrorCode = (typeof GadgetErrorCode)[keyof typeof GadgetErrorCode];

/** Same shape as KeybridgeError (native-mocks may not import it). */
export class GadgetError extends Error {
  readonly code: GadgetErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: GadgetErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GadgetError";
    this.code = code;
    this.details = options?.details;
  }
}

/** Creates the gadget under `gadgetDir` (e.g. /sys/kernel/config/usb_gadget/keybridge); does not bind it. */
export function writeGadgetConfig(gadgetDir: string, params: GadgetParameters): void {
  mkdirChecked(gadgetDir);
  for (const entry of configfsEntries(params)) {
    const path = join(gadgetDir, entry.path);
    try {
      if (entry.kind === "dir") mkdirSync(path, { recursive: true });
      else if (entry.kind === "file") writeFileSync(path, entry.value);
      else symlinkSync(join(gadgetDir, entry.target), path);
    } catch (error) {
      throw configfsFailure(path, error);
    }
  }
}

/** Plugs the gadget into `udc` (a name from /sys/class/udc), or unplugs it with `undefined`. */
export function bindGadget(gadgetDir: string, udc: string | undefined): void {
  const path = join(gadgetDir, "UDC");
  try {
    writeFileSync(path, `${udc ?? ""}\n`);
  } catch (error) {
    throw configfsFailure(path, error);
  }
}

/** The UDC the gadget is bound to, "" when unbound, undefined when there is no gadget. */
export function boundUdc(gadgetDir: string): string | undefined {
  try {
    return readFileSync(join(gadgetDir, "UDC"), "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw configfsFailure(join(gadgetDir, "UDC"), error);
  }
}

/**
 * Unbinds the gadget (the host sees the key unplugged) and removes it from configfs. Steps whose
 * entry is already gone are skipped, so a gadget left half made by an interrupted setup goes too.
 * Returns false when there was no gadget.
 */
export function removeGadgetConfig(gadgetDir: string): boolean {
  const udc = boundUdc(gadgetDir);
  if (udc === undefined) return false;
  if (udc !== "") bindGadget(gadgetDir, undefined);
  for (const step of configfsRemovals()) {
    const path = step.path === "" ? gadgetDir : join(gadgetDir, step.path);
    try {
      if (step.kind === "unlink") unlinkSync(path);
      else rmdirSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw configfsFailure(path, error);
    }
  }
  return true;
}

function mkdirChecked(path: string): void {
  try {
    mkdirSync(path);
  } catch (error) {
    throw configfsFailure(path, error);
  }
}

function configfsFailure(path: string, error: unknown): GadgetError {
  const errno = (error as NodeJS.ErrnoException).code;
  return new GadgetError(GadgetErrorCode.CONFIGFS_FAILED, `configfs: cannot write ${path} (${errno ?? error})`, {
    cause: error,
    details: { path, errno },
  });
}

/** UDC bus states in which the bus supplies no power to the device. */
const UNPOWERED_STATES = new Set(["", "not attached", "attached"]);

/**
 * Power as the key would see it. The gadget is unplugged when its configfs `UDC` attribute is
 * empty (that is how the VM pulls the cable; dummy_udc keeps reporting "configured" afterwards),
 * or when the controller it is bound to reports no power in `/sys/class/udc/<udc>/state` (a real
 * device controller whose cable was pulled). "suspended" counts as powered: a suspended USB device
 * keeps its memory. Anything unreadable counts as unpowered.
 */
export function gadgetPowerProbe(gadgetDir: string, sysfsUdc = "/sys/class/udc"): () => boolean {
  const readText = (path: string): string | undefined => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      // A gadget or controller that vanished supplies nothing: unpowered is the answer.
      return undefined;
    }
  };
  return () => {
    const udc = readText(join(gadgetDir, "UDC"));
    if (udc === undefined || udc === "") return false;
    const state = readText(join(sysfsUdc, udc, "state"));
    return state !== undefined && !UNPOWERED_STATES.has(state);
  };
}

// --- the device node ----------------------------------------------------------------------------

/** One open gadget node. `read` may wait indefinitely (see the file comment). */
export interface GadgetFile {
  read(into: Uint8Array): Promise<number>;
  write(report: Uint8Array): Promise<void>;
  close(): void;
}

/** Opens the character device with node's fs (thread-pool reads and writes, raw descriptors). */
export function charDeviceOpener(path: string): () => Promise<GadgetFile> {
  return () =>
    new Promise((resolve, reject) => {
      open(path, "r+", (error, fd) => {
        if (error) reject(error);
        else resolve(charDeviceFile(fd));
      });
    });
}

function charDeviceFile(fd: number): GadgetFile {
  let closed = false;
  return {
    read: (into) =>
      new Promise((resolve, reject) => {
        read(fd, into, 0, into.length, null, (error, bytes) => (error ? reject(error) : resolve(bytes)));
      }),
    write: (report) =>
      new Promise((resolve, reject) => {
        write(fd, report, 0, report.length, null, (error) => (error ? reject(error) : resolve()));
      }),
    close: () => {
      if (closed) return;
      closed = true;
      // Does not wait for the thread blocked in read(); the descriptor is released when it returns.
      close(fd, () => {});
    },
  };
}

// --- the port -------------------------------------------------------------------------------------

export type GadgetPortEvent =
  | { readonly type: "opened" }
  | { readonly type: "io-error"; readonly operation: "open" | "read" | "write"; readonly error: string }
  | { readonly type: "power"; readonly powered: boolean }
  | { readonly type: "dropped"; readonly bytes: number };

export interface GadgetPortOptions {
  readonly open: () => Promise<GadgetFile>;
  readonly store: KeyStore;
  /** The key to create when the store is empty. */
  readonly newKey: NewKeyOptions;
  /** True while the bus supplies the key; polled. Without it the key is powered all the time. */
  readonly powered?: () => boolean;
  readonly powerPollMs?: number;
  /** Pause before reopening the node after an I/O error. */
  readonly reopenDelayMs?: number;
  /** Real time for the key clock (tests). */
  readonly realNow?: () => number;
  readonly onEvent?: (event: GadgetPortEvent) => void;
}

/**
 * The firmware on a gadget node. `start()` boots the key and begins serving; `close()` stops
 * everything it started (the thread blocked in a read excepted, see the file comment).
 */
export class GadgetPort {
  private firmware: KeyFirmware | undefined;
  private file: GadgetFile | undefined;
  private closed = false;
  private writes: Promise<void> = Promise.resolve();
  private powerTimer: NodeJS.Timeout | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private wasPowered = true;
  private readonly options: GadgetPortOptions;
  private openedOnce: (() => void) | undefined;
  /** Resolves when the node was opened for the first time. */
  readonly ready: Promise<void>;

  constructor(options: GadgetPortOptions) {
    this.options = options;
    this.ready = new Promise((resolve) => {
      this.openedOnce = resolve;
    });
  }

  /** Boots the key from the store (creating it when the store is empty) and starts serving. */
  start(): KeySnapshot {
    this.firmware = this.boot();
    const snapshot = this.firmware.snapshot();
    if (this.options.powered !== undefined) {
      this.wasPowered = this.options.powered();
      if (!this.wasPowered) this.powerDown();
      this.powerTimer = setInterval(() => this.checkPower(), this.options.powerPollMs ?? 50);
      this.powerTimer.unref();
    }
    void this.openLoop();
    return snapshot;
  }

  /** The running firmware; undefined while the key has no power. */
  get key(): KeyFirmware | undefined {
    return this.firmware;
  }

  /** Moves the key clock (persisted). */
  advanceClock(ms: number): void {
    const firmware = this.requireFirmware();
    firmware.setClockOffset(firmware.clockOffsetMs + ms);
  }

  /** Restarts the firmware in place: channels are lost, the stored state stays. */
  reboot(): void {
    this.requireFirmware();
    this.powerDown();
    this.firmware = this.boot();
  }

  /** The next `count` requests wait `hold.durationMs` before they run (a stall, or busy with keepalives). */
  holdNextRequests(hold: HoldRequest, count = 1): void {
    this.requireFirmware().holdNextRequests(hold, count);
  }

  snapshot(): KeySnapshot {
    return this.requireFirmware().snapshot();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.powerTimer !== undefined) clearInterval(this.powerTimer);
    if (this.reopenTimer !== undefined) clearTimeout(this.reopenTimer);
    this.firmware?.shutdown();
    this.firmware = undefined;
    this.file?.close();
    this.file = undefined;
  }

  private requireFirmware(): KeyFirmware {
    if (this.firmware === undefined) throw new Error("the key has no power (gadget unbound)");
    return this.firmware;
  }

  private boot(): KeyFirmware {
    return KeyFirmware.boot(
      {
        store: this.options.store,
        emit: (report) => this.send(report),
        ...(this.options.realNow === undefined ? {} : { realNow: this.options.realNow }),
      },
      this.options.newKey,
    );
  }

  private powerDown(): void {
    this.firmware?.shutdown();
    this.firmware = undefined;
    // Reports not yet handed to the kernel die with the key; one already in the kernel cannot be recalled.
    this.writes = Promise.resolve();
  }

  private checkPower(): void {
    if (this.closed || this.options.powered === undefined) return;
    const powered = this.options.powered();
    if (powered === this.wasPowered) return;
    this.wasPowered = powered;
    this.emitEvent({ type: "power", powered });
    if (powered) this.firmware = this.boot();
    else this.powerDown();
  }

  private send(report: Uint8Array): void {
    const file = this.file;
    if (file === undefined) return; // no node open: the host has nobody to hear it either
    const copy = Uint8Array.from(report);
    this.writes = this.writes.then(() =>
      // A failed write loses this report only; the read side decides whether the node is gone.
      file.write(copy).catch((error: unknown) => {
        this.emitEvent({ type: "io-error", operation: "write", error: describe(error) });
      }),
    );
  }

  private async openLoop(): Promise<void> {
    while (!this.closed) {
      let file: GadgetFile;
      try {
        file = await this.options.open();
      } catch (error) {
        this.emitEvent({ type: "io-error", operation: "open", error: describe(error) });
        await this.pause();
        continue;
      }
      if (this.closed) {
        file.close();
        return;
      }
      this.file = file;
      this.emitEvent({ type: "opened" });
      this.openedOnce?.();
      this.openedOnce = undefined;
      await this.readLoop(file);
      if (!this.closed) await this.pause();
    }
  }

  private async readLoop(file: GadgetFile): Promise<void> {
    const buffer = new Uint8Array(REPORT_SIZE);
    while (!this.closed && this.file === file) {
      let bytes: number;
      try {
        bytes = await file.read(buffer);
      } catch (error) {
        if (!this.closed) this.emitEvent({ type: "io-error", operation: "read", error: describe(error) });
        this.dropFile(file);
        return;
      }
      if (this.closed) return;
      if (bytes !== REPORT_SIZE) {
        // f_hid hands over whole reports; anything else is not a report of ours.
        this.emitEvent({ type: "dropped", bytes });
        if (bytes === 0) {
          this.dropFile(file);
          return;
        }
        continue;
      }
      this.firmware?.receive(Uint8Array.from(buffer));
    }
  }

  private dropFile(file: GadgetFile): void {
    if (this.file === file) this.file = undefined;
    file.close();
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => {
      this.reopenTimer = setTimeout(resolve, this.options.reopenDelayMs ?? 50);
    });
  }

  private emitEvent(event: GadgetPortEvent): void {
    this.options.onEvent?.(event);
  }
}

function describe(error: unknown): string {
  const errno = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return errno !== undefined && !message.includes(errno) ? `${errno}: ${message}` : message;
}

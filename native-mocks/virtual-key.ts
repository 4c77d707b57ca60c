import { type Observable, Subject } from "rxjs";
import {
  HID_USAGE,
  HID_USAGE_PAGE,
  KeepaliveStatus,
  type License,
  USB_PRODUCT_ID,
  USB_VENDOR_ID,
} from "../src/protocol/index.js";
import { VirtualKeyError, VirtualKeyErrorCode } from "./errors.js";
import { KeyFirmware, type KeySnapshot } from "./firmware/firmware.js";
import { validateSerial } from "./firmware/key-state.js";
import { HostPort } from "./host-port.js";
import { FileKeyStore, type KeyStore, MemoryKeyStore } from "./key-store.js";

/** Which way a report travels: written by the host to the key, or sent by the key to the host. */
export type ReportDirection = "toKey" | "toHost";

/** A fault to inject; each fires once. Report counts start at 1 with the next report after injection. */
export type Fault =
  /** The key is pulled out when the Nth report (either direction) would pass; that report is lost. */
  | { readonly kind: "unplug"; readonly atReport: number }
  /** The Nth report in `direction` is lost. */
  | { readonly kind: "drop"; readonly direction: ReportDirection; readonly nth?: number }
  /** The Nth report in `direction` arrives with one byte inverted (default byte 10, inside the data). */
  | {
      readonly kind: "corrupt";
      readonly direction: ReportDirection;
      readonly nth?: number;
      readonly byteIndex?: number;
    }
  /** The next `requests` requests (default 1) get no answer for `ms`, then their answer. CANCEL ends them. */
  | { readonly kind: "stall"; readonly ms: number; readonly requests?: number }
  /** Like stall, but with a KEEPALIVE report every 100 ms meanwhile (default status BUSY). */
  | {
      readonly kind: "busy";
      readonly ms: number;
      readonly keepalive?: "BUSY" | "PROCESSING";
      readonly requests?: number;
    };

export interface VirtualKeyOptions {
  readonly serial: string;
  /** Licenses of a new key; ignored when the state file already holds a key. */
  readonly licenses?: readonly License[];
  /** Persist the key in this JSON file (mode 0600). Without it (and without `store`), the state lives in memory. */
  readonly stateFile?: string;
  readonly store?: KeyStore;
  /** Time each report spends on the wire, in ms. 0 = delivered synchronously. */
  readonly latencyMs?: number;
  readonly firmwareVersion?: string;
  readonly settleWindowMs?: number;
  /** Real-time source of the key clock (default Date.now). */
  readonly realNow?: () => number;
  /** Provisions a new key with this vendor public key (raw 32 bytes); ignored when the state file already holds a key. */
  readonly vendorPublicKey?: Uint8Array;
}

interface ArmedFault {
  readonly fault: Fault;
  seen: number;
}

const DROP = Symbol("drop");
const UNPLUG = Symbol("unplug");

function checkLatency(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new VirtualKeyError(VirtualKeyErrorCode.BAD_OPTION, `latency must be a non-negative number, got ${ms}`);
  }
  return ms;
}

/**
 * One virtual keybridge key as a USB device: the firmware plus the wire (latency, faults) and
 * power (plug, unplug, reboot). The firmware state lives in a KeyStore and survives all three.
 */
export class VirtualKey {
  readonly serial: string;
  readonly vendorId = USB_VENDOR_ID;
  readonly productId = USB_PRODUCT_ID;
  readonly usagePage = HID_USAGE_PAGE;
  readonly usage = HID_USAGE;
  readonly manufacturer = "keybridge";
  readonly product = "keybridge virtual key";
  readonly hasHidInterface = true;
  readonly store: KeyStore;
  private firmware: KeyFirmware;
  private readonly options: VirtualKeyOptions;
  private latency: number;
  private isPlugged = false;
  private readonly ports = new Set<HostPort>();
  private faults: ArmedFault[] = [];
  private readonly outbound: Uint8Array[] = [];
  private outboundTimer: NodeJS.Timeout | undefined;
  /** Reports on their way to the key, each with how to end its write when the key goes away first. */
  private readonly inbound = new Map<NodeJS.Timeout, (error?: Error) => void>();
  private readonly pluggedSubject = new Subject<boolean>();
  /** Emits true on plug and false on unplug (including an unplug fault). */
  readonly plugged$: Observable<boolean> = this.pluggedSubject.asObservable();
  /**
   * Reports that crossed the wire since creation, and the time the key spent, all measured with
   * `performance.now()` as it happened (timers under load fire late; nominal report × latency
   * figures understate the real time):
   * - `firmwareMs`: CPU time inside the firmware for host reports (signing and store writes included);
   * - `storeMs`: the part of it spent saving state (the state file's write and fsync);
   * - `answerMs`: from a request's last report in to its answer's first report out, summed;
   * - `wireMs`: time reports spent on the wire, each way, as the timers actually fired;
   * - `busyMs`: wall time during which the key held anything of the host's — a report on the wire
   *   either way, or a report in the firmware. For one caller at a time this is the key's share of
   *   the caller's wall time; benchmarks subtract it to get their own share.
   */
  readonly counters = { toKey: 0, toHost: 0, firmwareMs: 0, storeMs: 0, answerMs: 0, wireMs: 0, busyMs: 0 };
  private busyDepth = 0;
  private busySince = 0;
  /** When the last report of the host arrived and no report has gone out since. */
  private lastInAt: number | undefined;
  /** When the report now first in the outbound queue was handed to the wire. */
  private outboundSince = 0;

  constructor(options: VirtualKeyOptions) {
    validateSerial(options.serial);
    this.serial = options.serial;
    this.options = options;
    this.latency = checkLatency(options.latencyMs ?? 0);
    const store =
      options.store ?? (options.stateFile === undefined ? new MemoryKeyStore() : new FileKeyStore(options.stateFile));
    this.store = {
      location: store.location,
      load: () => store.load(),
      save: (document) => {
        const started = performance.now();
        try {
          store.save(document);
        } finally {
          this.counters.storeMs += performance.now() - started;
        }
      },
    };
    this.firmware = this.boot();
    this.firmware.shutdown();
  }

  private boot(): KeyFirmware {
    return KeyFirmware.boot(
      { store: this.store, emit: (report) => this.fromKey(report), realNow: this.options.realNow ?? Date.now },
      {
        serial: this.serial,
        licenses: this.options.licenses ?? [],
        ...(this.options.firmwareVersion === undefined ? {} : { firmwareVersion: this.options.firmwareVersion }),
        ...(this.options.settleWindowMs === undefined ? {} : { settleWindowMs: this.options.settleWindowMs }),
        ...(this.options.vendorPublicKey === undefined ? {} : { vendorPublicKey: this.options.vendorPublicKey }),
      },
    );
  }

  /** Provisions the key with a vendor public key, as its factory would (the PROVISION rule; persisted). */
  provision(vendorPublicKey: Uint8Array): void {
    this.firmware.provision(vendorPublicKey);
  }

  /** Wipes the key as its board would: no vendor, no licenses, no borrows (persisted). */
  wipe(): void {
    this.firmware.wipe();
  }

  get plugged(): boolean {
    return this.isPlugged;
  }

  get latencyMs(): number {
    return this.latency;
  }

  setLatency(ms: number): void {
    this.latency = checkLatency(ms);
  }

  get publicKey(): Uint8Array {
    return Uint8Array.from(this.firmware.publicKey);
  }

  /** The key's clock, epoch ms. */
  get keyTime(): number {
    return this.firmware.keyNow();
  }

  /** Moves the key clock forward (or back, with a negative value); persisted. */
  /** How far the key clock is from real time (persisted with the key). */
  get clockOffsetMs(): number {
    return this.firmware.clockOffsetMs;
  }

  advanceClock(ms: number): void {
    this.firmware.setClockOffset(this.firmware.clockOffsetMs + ms);
  }

  /** Sets the key clock to `epochMs`; persisted. */
  setClock(epochMs: number): void {
    this.firmware.setClockOffset(this.firmware.clockOffsetMs + (epochMs - this.firmware.keyNow()));
  }

  /** Everything the key holds (no private key, no tags), with K4/K5 applied at the current key time. */
  get state(): KeySnapshot {
    return this.firmware.snapshot();
  }

  /** Power on: boots the firmware from its store. Channels from before are gone. */
  plug(): void {
    if (this.isPlugged) return;
    this.firmware = this.boot();
    this.isPlugged = true;
    this.pluggedSubject.next(true);
  }

  /** Pulls the key out: open ports fail, everything in flight is lost, the stored state stays. */
  unplug(): void {
    if (!this.isPlugged) return;
    this.isPlugged = false;
    const gone = new VirtualKeyError(VirtualKeyErrorCode.DEVICE_UNPLUGGED, `key ${this.serial} was unplugged`);
    this.powerDown(gone);
    for (const port of this.ports) port.fail(gone);
    this.ports.clear();
    this.pluggedSubject.next(false);
  }

  /** Restarts the firmware in place: channels and partial messages are lost, the stored state and open ports stay. */
  reboot(): void {
    if (!this.isPlugged) return;
    this.powerDown();
    this.firmware = this.boot();
  }

  /** Stops the firmware and the wire. Writes in flight fail with `error`, or count as sent but lost without one. */
  private powerDown(error?: Error): void {
    this.firmware.shutdown();
    if (this.busyDepth > 0) this.counters.busyMs += performance.now() - this.busySince;
    this.busyDepth = 0;
    this.lastInAt = undefined;
    this.outbound.length = 0;
    if (this.outboundTimer !== undefined) clearTimeout(this.outboundTimer);
    this.outboundTimer = undefined;
    for (const [timer, end] of this.inbound) {
      clearTimeout(timer);
      end(error);
    }
    this.inbound.clear();
  }

  injectFault(fault: Fault): void {
    if (fault.kind === "stall" || fault.kind === "busy") {
      const keepalive =
        fault.kind === "busy"
          ? fault.keepalive === "PROCESSING"
            ? KeepaliveStatus.PROCESSING
            : KeepaliveStatus.BUSY
          : undefined;
      this.firmware.holdNextRequests(
        { durationMs: fault.ms, ...(keepalive === undefined ? {} : { keepalive }) },
        fault.requests ?? 1,
      );
      return;
    }
    this.faults.push({ fault, seen: 0 });
  }

  clearFaults(): void {
    this.faults = [];
    this.firmware.clearHolds();
  }

  /** Opens the host's end, like opening the hidraw node. */
  open(): HostPort {
    if (!this.isPlugged) {
      throw new VirtualKeyError(VirtualKeyErrorCode.DEVICE_UNPLUGGED, `key ${this.serial} is not plugged in`);
    }
    const port = new HostPort(
      (report) => this.fromHost(report),
      (closed) => this.ports.delete(closed),
    );
    this.ports.add(port);
    return port;
  }

  private busyBegin(): void {
    if (this.busyDepth++ === 0) this.busySince = performance.now();
  }

  private busyEnd(): void {
    if (this.busyDepth === 0) return;
    if (--this.busyDepth === 0) this.counters.busyMs += performance.now() - this.busySince;
  }

  /** Decides what the wire does to one report: deliver it (maybe altered), lose it, or lose the key. */
  private applyFaults(direction: ReportDirection, report: Uint8Array): Uint8Array | typeof DROP | typeof UNPLUG {
    this.counters[direction]++;
    if (this.faults.length === 0) return report;
    let result: Uint8Array | typeof DROP = report;
    for (const armed of [...this.faults]) {
      const fault = armed.fault;
      if (fault.kind === "unplug") {
        if (++armed.seen < fault.atReport) continue;
        this.faults.splice(this.faults.indexOf(armed), 1);
        return UNPLUG;
      }
      if (fault.kind !== "drop" && fault.kind !== "corrupt") continue;
      if (fault.direction !== direction || ++armed.seen < (fault.nth ?? 1)) continue;
      this.faults.splice(this.faults.indexOf(armed), 1);
      if (fault.kind === "drop") {
        result = DROP;
      } else if (result !== DROP) {
        const copy: Uint8Array = Uint8Array.from(result);
        const index = Math.min(Math.max(fault.byteIndex ?? 10, 0), copy.length - 1);
        copy[index] = copy[index]! ^ 0xff;
        result = copy;
      }
    }
    return result;
  }

  private fromHost(report: Uint8Array): Promise<void> | undefined {
    if (!this.isPlugged) {
      throw new VirtualKeyError(VirtualKeyErrorCode.DEVICE_UNPLUGGED, `key ${this.serial} was unplugged`);
    }
    if (this.latency === 0) {
      this.busyBegin();
      try {
        this.deliverToKey(report);
      } finally {
        this.busyEnd();
      }
      return undefined;
    }
    // Copy: the caller may reuse its buffer while the report is on the wire.
    const inFlight = Uint8Array.from(report);
    this.busyBegin();
    const sent = performance.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inbound.delete(timer);
        this.counters.wireMs += performance.now() - sent;
        try {
          this.deliverToKey(inFlight);
          resolve();
        } catch (error) {
          reject(error);
        } finally {
          this.busyEnd();
        }
      }, this.latency);
      this.inbound.set(timer, (error) => (error === undefined ? resolve() : reject(error)));
    });
  }

  private deliverToKey(report: Uint8Array): void {
    if (!this.isPlugged) {
      throw new VirtualKeyError(VirtualKeyErrorCode.DEVICE_UNPLUGGED, `key ${this.serial} was unplugged`);
    }
    const verdict = this.applyFaults("toKey", report);
    if (verdict === UNPLUG) {
      this.unplug();
      throw new VirtualKeyError(VirtualKeyErrorCode.DEVICE_UNPLUGGED, `key ${this.serial} was unplugged`);
    }
    if (verdict === DROP) return;
    const started = performance.now();
    this.lastInAt = started;
    this.firmware.receive(verdict);
    this.counters.firmwareMs += performance.now() - started;
  }

  private fromKey(report: Uint8Array): void {
    if (!this.isPlugged) return;
    if (this.lastInAt !== undefined) {
      this.counters.answerMs += performance.now() - this.lastInAt;
      this.lastInAt = undefined;
    }
    const verdict = this.applyFaults("toHost", report);
    if (verdict === UNPLUG) {
      this.unplug();
      return;
    }
    if (verdict === DROP) return;
    if (this.latency === 0) {
      for (const port of this.ports) port.deliver(verdict);
      return;
    }
    this.outbound.push(verdict);
    if (this.outboundTimer === undefined) {
      // An idle outbound wire: the key is busy until the queue drains.
      this.busyBegin();
      this.scheduleOutbound();
    }
  }

  /** One report becomes readable every `latency` ms, in order, like interrupt IN transfers. */
  private scheduleOutbound(): void {
    this.outboundSince = performance.now();
    this.outboundTimer = setTimeout(() => {
      this.outboundTimer = undefined;
      this.counters.wireMs += performance.now() - this.outboundSince;
      const report = this.outbound.shift();
      if (report === undefined || !this.isPlugged) {
        this.busyEnd();
        return;
      }
      for (const port of this.ports) port.deliver(report);
      if (this.outbound.length > 0) this.scheduleOutbound();
      else this.busyEnd();
    }, this.latency);
  }
}

import {
  type BorrowRecord,
  BROADCAST_CID,
  encodeErrorBody,
  encodeFrames,
  encodeInitResponse,
  encodeResponseEnvelope,
  FrameCommand,
  FramingError,
  INIT_NONCE_SIZE,
  type KeepaliveStatus,
  type LicenseUsage,
  MessageAssembler,
  NONCE_SIZE,
  type Packet,
  PROTOCOL_VERSION,
  ProtocolError,
  ProtocolErrorCode,
  parseReport,
  REPORT_SIZE,
  RESERVED_CID,
  Status,
  signResponse,
} from "../../src/protocol/index.js";
import { VirtualKeyError, VirtualKeyErrorCode } from "../errors.js";
import type { KeyStore } from "../key-store.js";
import { dispatchCommand } from "./dispatch.js";
import {
  createKeyState,
  fromDocument,
  type KeyState,
  type KeyStateDocument,
  MAX_CLOCK_OFFSET_MS,
  type NewKeyOptions,
  toDocument,
} from "./key-state.js";
import { applyTime, KEY_CAPABILITIES, listLicenses, provision, toWireRecord, wipe } from "./rules.js";

/** What a test may inspect of a key; the private key and borrow tags stay inside. */
export interface KeySnapshot {
  readonly serial: string;
  readonly firmwareVersion: string;
  readonly publicKey: Uint8Array;
  readonly keyTimeMs: number;
  readonly clockOffsetMs: number;
  readonly settleWindowMs: number;
  readonly licenseSetVersion: number;
  readonly licenses: readonly LicenseUsage[];
  /** The vendor key a license update must be signed with; undefined while not provisioned. */
  readonly vendorPublicKey: Uint8Array | undefined;
  /** Counter of the last signed update applied (0 before the first). */
  readonly updateCounter: number;
  readonly borrows: readonly BorrowRecord[];
  readonly nextBorrowId: number;
  readonly journalSize: number;
}

/** An incomplete message abandoned this long is dropped with ERROR MSG_TIMEOUT. */
export const MESSAGE_TIMEOUT_MS = 500;
/** A request that runs long is accompanied by a KEEPALIVE at least this often. */
export const KEEPALIVE_INTERVAL_MS = 100;
/** Channel table size; the least recently allocated idle channel is forgotten beyond it. */
export const MAX_CHANNELS = 64;

/** Makes the next request(s) take longer: silent (a stall) or with KEEPALIVE reports (busy). */
export interface HoldRequest {
  readonly durationMs: number;
  readonly keepalive?: KeepaliveStatus;
}

export interface KeyFirmwareOptions {
  readonly store: KeyStore;
  /** Receives every report the key sends, in order. Must not mutate it. */
  readonly emit: (report: Uint8Array) => void;
  /** Real time; the key clock is this plus the persisted offset. Default Date.now. */
  readonly realNow?: () => number;
}

interface PendingRequest {
  readonly cid: number;
  readonly nonce: Uint8Array;
  readonly command: number;
  readonly body: Uint8Array;
  readonly done: NodeJS.Timeout;
  readonly keepalive: NodeJS.Timeout | undefined;
}

/**
 * The key's firmware: reports in, reports out. Framing (channels, reassembly, timeouts, cancel,
 * keepalive) lives here; the license rules live in rules.ts. No input makes it throw: a malformed
 * report is answered with an ERROR report or ignored. A state change is saved to the store
 * before the response leaves the key.
 */
export class KeyFirmware {
  private state: KeyState;
  private lastSaved: KeyStateDocument;
  private readonly store: KeyStore;
  private readonly emit: (report: Uint8Array) => void;
  private readonly realNow: () => number;
  private readonly channels = new Map<number, MessageAssembler>();
  private lastCid: number;
  /** The channel with a message being reassembled or a request pending; others get CHANNEL_BUSY. */
  private busyCid: number | undefined;
  private messageTimer: NodeJS.Timeout | undefined;
  private pending: PendingRequest | undefined;
  private readonly holds: HoldRequest[] = [];
  private running = true;
  /** The last unexpected exception caught at the boundary (a bug in the firmware, not bad input). */
  lastInternalError: unknown;

  private constructor(state: KeyState, saved: KeyStateDocument, options: KeyFirmwareOptions) {
    this.state = state;
    this.lastSaved = saved;
    this.store = options.store;
    this.emit = options.emit;
    this.realNow = options.realNow ?? Date.now;
    // A random start: CIDs a host remembers from before a reboot are invalid, not silently reused.
    this.lastCid = (Math.random() * 0xfffffff0) >>> 0;
  }

  /** Boots from the store; a store that was never written gets a new key from `newKey`. */
  static boot(options: KeyFirmwareOptions, newKey: NewKeyOptions): KeyFirmware {
    const saved = options.store.load();
    if (saved !== undefined) {
      const state = fromDocument(saved);
      if (state.serial !== newKey.serial) {
        throw new VirtualKeyError(
          VirtualKeyErrorCode.SERIAL_MISMATCH,
          `state in ${options.store.location} belongs to key ${state.serial}, not ${newKey.serial}`,
          { details: { expected: newKey.serial, found: state.serial } },
        );
      }
      return new KeyFirmware(state, saved, options);
    }
    const state = createKeyState(newKey);
    const document = toDocument(state);
    options.store.save(document);
    return new KeyFirmware(state, document, options);
  }

  /** Key clock in epoch ms. */
  keyNow(): number {
    return this.realNow() + this.state.clockOffsetMs;
  }

  /** A copy of everything the key holds except its private key and the borrow tags, at the current key time. */
  snapshot(): KeySnapshot {
    const now = this.keyNow();
    applyTime(this.state, now);
    const state = this.state;
    return {
      serial: state.serial,
      firmwareVersion: state.firmwareVersion,
      publicKey: Uint8Array.from(state.publicKey),
      keyTimeMs: now,
      clockOffsetMs: state.clockOffsetMs,
      settleWindowMs: state.settleWindowMs,
      licenseSetVersion: state.licenseSetVersion,
      licenses: listLicenses(state),
      vendorPublicKey: state.vendorPublicKey === undefined ? undefined : Uint8Array.from(state.vendorPublicKey),
      updateCounter: state.updateCounter,
      borrows: [...state.borrows.values()].map((record) => {
        const wire = toWireRecord(record);
        return { ...wire, binding: Uint8Array.from(wire.binding), opId: Uint8Array.from(wire.opId) };
      }),
      nextBorrowId: state.nextBorrowId,
      journalSize: state.journal.size,
    };
  }

  get clockOffsetMs(): number {
    return this.state.clockOffsetMs;
  }

  get publicKey(): Uint8Array {
    return this.state.publicKey;
  }

  /** Moves the key clock (persisted, like a real key's RTC). Throws STATE_WRITE_FAILED when it cannot be saved. */
  setClockOffset(offsetMs: number): void {
    // Checked before it is kept: a key whose saved offset cannot be read back would not load again.
    if (!Number.isSafeInteger(offsetMs) || Math.abs(offsetMs) > MAX_CLOCK_OFFSET_MS) {
      throw new VirtualKeyError(
        VirtualKeyErrorCode.CLOCK_OUT_OF_RANGE,
        `the virtual key clock can be moved at most ${MAX_CLOCK_OFFSET_MS} ms (100 years) from real time; ` +
          `an offset of ${offsetMs} ms is refused`,
        { details: { offsetMs, maxOffsetMs: MAX_CLOCK_OFFSET_MS } },
      );
    }
    this.state.clockOffsetMs = offsetMs;
    const failure = this.save();
    if (failure !== undefined) throw failure;
  }

  /**
   * Provisions the key as a factory would, by the same rule as the PROVISION command (same
   * refusals, thrown as VirtualKeyError BAD_OPTION). Throws STATE_WRITE_FAILED when it cannot be saved.
   */
  provision(vendorPublicKey: Uint8Array): void {
    const result = provision(this.state, { serial: this.state.serial, vendorPublicKey });
    if (!result.ok) {
      throw new VirtualKeyError(
        VirtualKeyErrorCode.BAD_OPTION,
        `cannot provision key ${this.state.serial}: ${result.reason}`,
      );
    }
    if (!result.mutated) return;
    const failure = this.save();
    if (failure !== undefined) throw failure;
  }

  /** Board-side wipe (rules.ts `wipe`): back to an unprovisioned key without licenses or borrows; saved before it returns. */
  wipe(): void {
    applyTime(this.state, this.keyNow());
    wipe(this.state);
    const failure = this.save();
    if (failure !== undefined) throw failure;
  }

  /** The next `count` requests are held for `hold.durationMs` before they run (stall or busy fault). */
  holdNextRequests(hold: HoldRequest, count = 1): void {
    for (let i = 0; i < count; i++) this.holds.push(hold);
  }

  clearHolds(): void {
    this.holds.length = 0;
  }

  /** Power off: forget channels and anything in flight, stop every timer. The store keeps the state. */
  shutdown(): void {
    this.running = false;
    this.clearMessageTimer();
    this.clearPending();
    this.channels.clear();
    this.busyCid = undefined;
    this.holds.length = 0;
  }

  receive(report: Uint8Array): void {
    if (!this.running || report.length !== REPORT_SIZE) return;
    this.guard(report, () => this.handleReport(parseReport(report), report));
  }

  private guard(report: Uint8Array | undefined, action: () => void): void {
    try {
      action();
    } catch (error) {
      this.lastInternalError = error;
      if (report !== undefined && this.running) this.sendError(cidOf(report), FramingError.OTHER);
    }
  }

  private handleReport(packet: Packet, report: Uint8Array): void {
    const cid = packet.cid;
    if (packet.kind === "init" && packet.cmd === FrameCommand.INIT) {
      this.handleInit(cid, packet.length, packet.data);
      return;
    }
    if (cid === BROADCAST_CID || !this.channels.has(cid)) {
      this.sendError(cid, FramingError.INVALID_CHANNEL);
      return;
    }
    if (packet.kind === "cont") {
      if (this.busyCid !== cid || this.pending !== undefined) {
        this.sendError(cid, FramingError.INVALID_SEQ);
        return;
      }
      this.feed(cid, report);
      return;
    }
    if (this.busyCid !== undefined && this.busyCid !== cid) {
      if (packet.cmd !== FrameCommand.CANCEL) this.sendError(cid, FramingError.CHANNEL_BUSY);
      return;
    }
    switch (packet.cmd) {
      case FrameCommand.CANCEL:
        this.cancel(cid);
        return;
      case FrameCommand.MSG:
        if (this.pending !== undefined) {
          this.sendError(cid, FramingError.CHANNEL_BUSY);
          return;
        }
        this.feed(cid, report);
        return;
      default:
        this.sendError(cid, FramingError.INVALID_CMD);
    }
  }

  private handleInit(cid: number, length: number, data: Uint8Array): void {
    if (cid !== BROADCAST_CID && !this.channels.has(cid)) {
      this.sendError(cid, FramingError.INVALID_CHANNEL);
      return;
    }
    if (length !== INIT_NONCE_SIZE) {
      this.sendError(cid, FramingError.INVALID_LEN);
      return;
    }
    let assigned = cid;
    if (cid === BROADCAST_CID) assigned = this.allocateChannel();
    else this.abortChannel(cid); // INIT on an own channel resynchronises it, as in CTAPHID
    const payload = encodeInitResponse({
      nonce: data.subarray(0, INIT_NONCE_SIZE),
      cid: assigned,
      protocolVersion: PROTOCOL_VERSION,
      firmwareVersion: this.state.firmwareVersion,
      capabilities: KEY_CAPABILITIES,
    });
    this.emitFrames(cid, FrameCommand.INIT, payload);
  }

  private allocateChannel(): number {
    let cid = this.lastCid;
    do {
      cid = (cid + 1) >>> 0;
    } while (cid === RESERVED_CID || cid === BROADCAST_CID || this.channels.has(cid));
    this.lastCid = cid;
    if (this.channels.size >= MAX_CHANNELS) {
      for (const old of this.channels.keys()) {
        if (old === this.busyCid) continue;
        this.channels.delete(old);
        break;
      }
    }
    this.channels.set(cid, new MessageAssembler(cid));
    return cid;
  }

  private abortChannel(cid: number): void {
    if (this.pending?.cid === cid) this.clearPending();
    if (this.busyCid === cid) {
      this.channels.get(cid)?.reset();
      this.endBusy();
    }
  }

  private feed(cid: number, report: Uint8Array): void {
    const assembler = this.channels.get(cid);
    if (assembler === undefined) return;
    let message: ReturnType<MessageAssembler["push"]>;
    try {
      message = assembler.push(report);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      assembler.reset();
      this.endBusy();
      this.sendError(
        cid,
        error.code === ProtocolErrorCode.LENGTH_TOO_LARGE ? FramingError.INVALID_LEN : FramingError.INVALID_SEQ,
      );
      return;
    }
    if (message === undefined) {
      this.busyCid = cid;
      this.armMessageTimer(cid);
      return;
    }
    this.endBusy();
    this.handleMessage(cid, message.payload);
  }

  private armMessageTimer(cid: number): void {
    if (this.messageTimer !== undefined) {
      this.messageTimer.refresh();
      return;
    }
    this.messageTimer = setTimeout(() => {
      this.messageTimer = undefined;
      this.guard(undefined, () => {
        if (this.busyCid !== cid || this.pending !== undefined) return;
        this.channels.get(cid)?.reset();
        this.endBusy();
        this.sendError(cid, FramingError.MSG_TIMEOUT);
      });
    }, MESSAGE_TIMEOUT_MS);
    this.messageTimer.unref();
  }

  private clearMessageTimer(): void {
    if (this.messageTimer === undefined) return;
    clearTimeout(this.messageTimer);
    this.messageTimer = undefined;
  }

  private endBusy(): void {
    this.clearMessageTimer();
    if (this.pending === undefined) this.busyCid = undefined;
  }

  private handleMessage(cid: number, payload: Uint8Array): void {
    if (payload.length < NONCE_SIZE + 1) {
      this.sendError(cid, FramingError.INVALID_LEN);
      return;
    }
    const nonce = payload.subarray(0, NONCE_SIZE);
    const command = payload[NONCE_SIZE]!;
    const body = payload.subarray(NONCE_SIZE + 1);
    const hold = this.holds.shift();
    if (hold === undefined) {
      this.execute(cid, nonce, command, body);
      return;
    }
    this.startPending(cid, nonce, command, body, hold);
  }

  private startPending(cid: number, nonce: Uint8Array, command: number, body: Uint8Array, hold: HoldRequest): void {
    let keepalive: NodeJS.Timeout | undefined;
    if (hold.keepalive !== undefined) {
      const report = encodeFrames(cid, FrameCommand.KEEPALIVE, Uint8Array.of(hold.keepalive))[0]!;
      this.emit(report);
      keepalive = setInterval(() => {
        if (this.running) this.guard(undefined, () => this.emit(report));
      }, KEEPALIVE_INTERVAL_MS);
    }
    const done = setTimeout(() => {
      const request = this.pending;
      this.clearPending();
      if (request === undefined || !this.running) return;
      this.guard(undefined, () => this.execute(request.cid, request.nonce, request.command, request.body));
    }, hold.durationMs);
    this.busyCid = cid;
    this.pending = { cid, nonce, command, body, done, keepalive };
  }

  private clearPending(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    clearTimeout(pending.done);
    if (pending.keepalive !== undefined) clearInterval(pending.keepalive);
    this.pending = undefined;
    if (this.busyCid === pending.cid) this.busyCid = undefined;
  }

  private cancel(cid: number): void {
    const pending = this.pending;
    if (pending?.cid === cid) {
      this.clearPending();
      this.sendResponse(cid, pending.nonce, pending.command, Status.CANCELLED, encodeErrorBody("request cancelled"));
      return;
    }
    if (this.busyCid === cid) {
      this.channels.get(cid)?.reset();
      this.endBusy();
    }
  }

  private execute(cid: number, nonce: Uint8Array, command: number, body: Uint8Array): void {
    let status: Status;
    let responseBody: Uint8Array;
    try {
      const answer = dispatchCommand(this.state, command, body, this.keyNow());
      status = answer.status;
      responseBody = answer.body;
      if (answer.persist) {
        const failure = this.save();
        if (failure !== undefined) {
          const full = (failure.details?.errno as string | undefined) === "ENOSPC";
          status = full ? Status.STORAGE_FULL : Status.INTERNAL;
          responseBody = encodeErrorBody(full ? "key storage is full" : "key storage write failed");
        }
      }
    } catch (error) {
      this.lastInternalError = error;
      this.restoreSaved();
      status = Status.INTERNAL;
      responseBody = encodeErrorBody("internal error");
    }
    this.sendResponse(cid, nonce, command, status, responseBody);
  }

  /** Saves the state; on failure the state goes back to the last saved one and the error is returned. */
  private save(): VirtualKeyError | undefined {
    try {
      const document = toDocument(this.state);
      this.store.save(document);
      this.lastSaved = document;
      return undefined;
    } catch (error) {
      this.restoreSaved();
      return error instanceof VirtualKeyError
        ? error
        : new VirtualKeyError(VirtualKeyErrorCode.STATE_WRITE_FAILED, "cannot save virtual key state", {
            cause: error,
          });
    }
  }

  private restoreSaved(): void {
    this.state = fromDocument(this.lastSaved);
  }

  private sendResponse(cid: number, nonce: Uint8Array, command: number, status: Status, body: Uint8Array): void {
    const signature = signResponse(this.state.privateKey, nonce, command, status, body);
    this.emitFrames(cid, FrameCommand.MSG, encodeResponseEnvelope({ command, status, body, signature }));
  }

  private sendError(cid: number, code: FramingError): void {
    this.emitFrames(cid, FrameCommand.ERROR, Uint8Array.of(code));
  }

  private emitFrames(cid: number, cmd: number, payload: Uint8Array): void {
    const reports = encodeFrames(cid, cmd, payload);
    for (let i = 0; i < reports.length && this.running; i++) this.emit(reports[i]!);
  }
}

function cidOf(report: Uint8Array): number {
  return ((report[0]! << 24) >>> 0) + ((report[1]! << 16) | (report[2]! << 8) | report[3]!);
}

import { randomFillSync } from "node:crypto";
import { layerLogger } from "../log.js";
import {
  BROADCAST_CID,
  FRAME_COMMAND_FLAG,
  FrameCommand,
  FramingError,
  INIT_NONCE_SIZE,
  KeepaliveStatus,
  PROTOCOL_VERSION,
  REPORT_SIZE,
  RESERVED_CID,
} from "../protocol/constants.js";
import { ProtocolError, ProtocolErrorCode } from "../protocol/errors.js";
import { encodeFrames, type FrameMessage, MessageAssembler } from "../protocol/frame.js";
import { decodeInitResponse, encodeInitRequest } from "../protocol/messages.js";
import {
  FramingErrorReceived,
  KeyBusy,
  KeyDisconnected,
  TransportAborted,
  TransportClosed,
  TransportQueueFull,
  TransportTimeout,
  UnsupportedProtocolVersion,
} from "./errors.js";
import type { HidPort, HidPortInfo } from "./hid-port.js";
import { logReport } from "./traffic.js";

const log = layerLogger("transport");

/** Source of the random bytes for nonces; replaceable so a replayed session can reuse recorded nonces. */
export type RandomBytes = (size: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (size) => randomFillSync(new Uint8Array(size));

export interface TransportOptions {
  /** Default per-call timeout, queue wait included. */
  readonly timeoutMs?: number;
  /** How many calls may wait behind the running one. */
  readonly queueLimit?: number;
  /** While the key sends PROCESSING keepalives the deadline moves, but never past send time + this. */
  readonly processingCapMs?: number;
  /** After a PROCESSING keepalive, wait at least this long for the next sign of life (the key sends one every ≤ 100 ms). */
  readonly keepaliveGraceMs?: number;
  /** First and longest pause between retries while the key answers BUSY. */
  readonly busyBackoffMs?: { readonly initial: number; readonly max: number };
  /** How long an aborted call waits for the key's CANCELLED answer. */
  readonly cancelGraceMs?: number;
  /** Resync: the link counts as quiet after this long without a report. */
  readonly drainQuietMs?: number;
  /** Timeout of the INIT (channel allocation) exchange. */
  readonly initTimeoutMs?: number;
  readonly randomBytes?: RandomBytes;
}

export interface ExchangeOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Called when the request leaves the queue for the key: exchange time is measured from here. */
  readonly onStart?: () => void;
}

/** What the key told us when the channel was allocated. */
export interface ChannelInfo {
  readonly cid: number;
  readonly protocolVersion: number;
  readonly firmwareVersion: string;
  readonly capabilities: number;
}

const DEFAULTS = {
  timeoutMs: 5_000,
  queueLimit: 64,
  processingCapMs: 60_000,
  keepaliveGraceMs: 500,
  busyBackoffMs: { initial: 5, max: 250 },
  cancelGraceMs: 250,
  drainQuietMs: 15,
  initTimeoutMs: 2_000,
} as const;

/** Longest single read; bounds how long an abort or close waits for the loop to notice. */
const READ_SLICE_MS = 50;
/** A key still working sends a keepalive at least every 100 ms; wait this long before calling it quiet. */
const KEEPALIVE_QUIET_MS = 150;

/** Marker: the key answered BUSY, try again after a pause. */
const BUSY = Symbol("busy");

interface Job {
  readonly payload: Uint8Array;
  readonly timeoutMs: number;
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  readonly onStart: (() => void) | undefined;
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (error: unknown) => void;
  onAbort: (() => void) | undefined;
  aborted: boolean;
  /** Set while the job sleeps between BUSY retries: wakes it early on abort or close. */
  wake: (() => void) | undefined;
  /** Only while queued behind another call: fails the job at its deadline without waiting for its turn. */
  expiry: NodeJS.Timeout | undefined;
}

const now = (): number => performance.now();

/**
 * One channel to one key. Runs one exchange at a time: callers queue (bounded), each with its
 * own deadline that includes the wait. Keepalive, busy-retry, cancel and resynchronisation
 * after errors are handled here, once, so the layers above see only a response payload or a
 * typed error.
 */
export class Transport {
  private cid = RESERVED_CID;
  private channelInfo: ChannelInfo | undefined;
  private readonly queue: Job[] = [];
  private current: Job | undefined;
  private pumping: Promise<void> | undefined;
  private failure: KeyDisconnected | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Stale reports may be waiting (after a timeout, cancel or framing error): drain before the next call. */
  private needsResync = false;
  private readonly assembler = new MessageAssembler();
  private traffic = false;
  private readonly options: Required<TransportOptions>;

  private constructor(
    private port: HidPort,
    options: TransportOptions,
  ) {
    this.options = {
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      queueLimit: options.queueLimit ?? DEFAULTS.queueLimit,
      processingCapMs: options.processingCapMs ?? DEFAULTS.processingCapMs,
      keepaliveGraceMs: options.keepaliveGraceMs ?? DEFAULTS.keepaliveGraceMs,
      busyBackoffMs: options.busyBackoffMs ?? DEFAULTS.busyBackoffMs,
      cancelGraceMs: options.cancelGraceMs ?? DEFAULTS.cancelGraceMs,
      drainQuietMs: options.drainQuietMs ?? DEFAULTS.drainQuietMs,
      initTimeoutMs: options.initTimeoutMs ?? DEFAULTS.initTimeoutMs,
      randomBytes: options.randomBytes ?? defaultRandomBytes,
    };
  }

  /**
   * Takes ownership of `port` and allocates a channel (INIT). On failure the port is closed
   * and the error (timeout, disconnect, unsupported protocol version) is thrown.
   */
  static async open(port: HidPort, options: TransportOptions = {}): Promise<Transport> {
    const transport = new Transport(port, options);
    try {
      await transport.allocateChannel();
    } catch (error) {
      await transport.port.close().catch((closeError: unknown) => {
        log.debug("closing the port after a failed INIT failed too", { error: String(closeError) });
      });
      throw error;
    }
    return transport;
  }

  get channel(): ChannelInfo {
    if (this.channelInfo === undefined) throw new TransportClosed();
    return this.channelInfo;
  }

  get info(): HidPortInfo {
    return this.port.info;
  }

  /** True once the device vanished; every call fails with KEY_DISCONNECTED until `reopen`. */
  get disconnected(): boolean {
    return this.failure !== undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Number of calls waiting behind the running one. */
  get queued(): number {
    return this.queue.length;
  }

  /** After a disconnect: continues on a new port to the (replugged) key with a fresh channel. */
  async reopen(port: HidPort): Promise<void> {
    if (this.closed) throw new TransportClosed();
    if (this.failure === undefined) throw new Error("reopen() is only for a disconnected transport");
    this.port = port;
    this.failure = undefined;
    this.needsResync = false;
    try {
      await this.allocateChannel();
    } catch (error) {
      if (error instanceof KeyDisconnected) this.failure = error;
      else this.failure = new KeyDisconnected("reopening the key failed", { cause: error });
      throw error;
    }
  }

  /**
   * Sends one MSG payload and resolves the key's MSG answer payload. Rejects with
   * TRANSPORT_TIMEOUT, TRANSPORT_QUEUE_FULL, TRANSPORT_ABORTED, KEY_BUSY, KEY_DISCONNECTED,
   * KEY_FRAMING_ERROR, TRANSPORT_CLOSED or a PROTOCOL_* error for malformed reports.
   */
  exchange(payload: Uint8Array, options: ExchangeOptions = {}): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new TransportClosed());
    if (this.failure !== undefined) return Promise.reject(this.disconnectedError());
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new TransportAborted("aborted before it was sent"));
    if (this.queue.length >= this.options.queueLimit) {
      return Promise.reject(new TransportQueueFull(this.options.queueLimit));
    }
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    return new Promise<Uint8Array>((resolve, reject) => {
      const job: Job = {
        payload,
        timeoutMs,
        deadline: now() + timeoutMs,
        signal,
        onStart: options.onStart,
        resolve,
        reject,
        onAbort: undefined,
        aborted: false,
        wake: undefined,
        expiry: undefined,
      };
      if (signal !== undefined) {
        job.onAbort = () => this.abortJob(job);
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.queue.push(job);
      if (this.pumping === undefined) this.pumping = this.pump();
      else job.expiry = setTimeout(() => this.expireQueued(job), timeoutMs);
    });
  }

  /** Rejects every waiting call, stops the running one, closes the port. Leaves no timer or handle. */
  close(): Promise<void> {
    if (this.closing === undefined) this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, new TransportClosed());
    const running = this.current;
    if (running !== undefined) running.wake?.();
    await this.pumping;
    if (this.failure === undefined) await this.port.close();
  }

  private disconnectedError(): KeyDisconnected {
    return new KeyDisconnected("the key was disconnected; reopen the transport after replug", {
      cause: this.failure,
    });
  }

  private abortJob(job: Job): void {
    job.aborted = true;
    const index = this.queue.indexOf(job);
    if (index >= 0) {
      this.queue.splice(index, 1);
      this.settle(job, new TransportAborted("aborted while waiting for the key"));
      return;
    }
    job.wake?.();
  }

  private expireQueued(job: Job): void {
    job.expiry = undefined;
    const index = this.queue.indexOf(job);
    if (index < 0) return;
    this.queue.splice(index, 1);
    this.settle(job, new TransportTimeout(job.timeoutMs, { details: { during: "queue" } }));
  }

  private settle(job: Job, error: unknown, payload?: Uint8Array): void {
    if (job.expiry !== undefined) {
      clearTimeout(job.expiry);
      job.expiry = undefined;
    }
    if (job.onAbort !== undefined) {
      job.signal?.removeEventListener("abort", job.onAbort);
      job.onAbort = undefined;
    }
    if (payload !== undefined) job.resolve(payload);
    else job.reject(error);
  }

  private async pump(): Promise<void> {
    try {
      for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
        this.current = job;
        if (job.expiry !== undefined) {
          clearTimeout(job.expiry);
          job.expiry = undefined;
        }
        job.onStart?.();
        try {
          this.settle(job, undefined, await this.run(job));
        } catch (error) {
          this.settle(job, error);
        }
        this.current = undefined;
      }
    } finally {
      this.pumping = undefined;
    }
  }

  private async run(job: Job): Promise<Uint8Array> {
    if (this.failure !== undefined) throw this.disconnectedError();
    this.traffic = log.isTrafficEnabled();
    try {
      if (this.needsResync) await this.resync(job.deadline);
      let pause = this.options.busyBackoffMs.initial;
      let channelRetried = false;
      for (;;) {
        const outcome = await this.attempt(job);
        if (outcome instanceof Uint8Array) return outcome;
        if (outcome === FramingError.INVALID_CHANNEL && !channelRetried) {
          // The key forgot our channel (it rebooted): the request was never processed, so a
          // fresh channel and one resend are safe even for mutating commands.
          channelRetried = true;
          log.info("the key does not know our channel any more; allocating a new one");
          await this.allocateChannel();
          continue;
        }
        if (outcome !== BUSY) throw new FramingErrorReceived(outcome);
        if (job.deadline - now() <= pause) throw new KeyBusy(job.timeoutMs);
        await this.sleep(job, pause);
        this.checkStopped(job, false);
        if (job.deadline <= now()) throw new KeyBusy(job.timeoutMs);
        pause = Math.min(pause * 2, this.options.busyBackoffMs.max);
      }
    } catch (error) {
      throw this.onFailure(error);
    }
  }

  /** Sends the request once; returns the answer, BUSY (rejected with CHANNEL_BUSY: resend), or a framing error byte. */
  private async attempt(job: Job): Promise<Uint8Array | typeof BUSY | number> {
    this.checkStopped(job, false);
    if (job.deadline <= now()) throw new TransportTimeout(job.timeoutMs);
    const reports = encodeFrames(this.cid, FrameCommand.MSG, job.payload);
    for (let i = 0; i < reports.length; i++) await this.writeReport(reports[i]!);
    this.assembler.reset();
    let deadline = job.deadline;
    const cap = Math.max(deadline, now() + this.options.processingCapMs);
    // KEEPALIVE BUSY means the key holds our request and will answer it after other work:
    // resending would only queue a second copy, so we wait, within the caller's own deadline.
    let heldBusy = false;
    for (;;) {
      if (job.aborted || this.closed) {
        // On close nobody waits for the answer; the CANCEL only spares the key the work.
        await this.cancelRunning(this.closed ? 0 : this.options.cancelGraceMs);
        this.checkStopped(job, true);
      }
      const remaining = deadline - now();
      if (remaining <= 0) {
        this.needsResync = true;
        if (heldBusy) {
          await this.cancelRunning(this.options.cancelGraceMs);
          throw new KeyBusy(job.timeoutMs);
        }
        throw new TransportTimeout(job.timeoutMs);
      }
      const report = await this.readReport(Math.min(remaining, READ_SLICE_MS));
      if (report === undefined) continue;
      const message = this.accept(report);
      if (message === undefined) continue;
      switch (message.cmd) {
        case FrameCommand.MSG:
          return message.payload;
        case FrameCommand.KEEPALIVE:
          if (message.payload[0] === KeepaliveStatus.BUSY) {
            heldBusy = true;
            continue;
          }
          heldBusy = false;
          deadline = Math.min(cap, Math.max(deadline, now() + this.options.keepaliveGraceMs));
          continue;
        case FrameCommand.ERROR: {
          const code = message.payload[0] ?? FramingError.OTHER;
          if (code === FramingError.CHANNEL_BUSY) return BUSY;
          this.needsResync = true;
          return code;
        }
        default:
          log.debug("ignoring an unexpected frame command on our channel", { cmd: message.cmd });
      }
    }
  }

  /** Throws the right error when the job was aborted or the transport closed. */
  private checkStopped(job: Job, afterCancel: boolean): void {
    if (this.closed) throw new TransportClosed();
    if (job.aborted) {
      throw new TransportAborted(afterCancel ? "aborted; the key was asked to cancel" : "aborted");
    }
  }

  /** Tells the key to stop and waits briefly for its answer (CANCELLED, or the result if it was faster). */
  private async cancelRunning(graceMs: number): Promise<void> {
    await this.writeReport(encodeFrames(this.cid, FrameCommand.CANCEL, new Uint8Array(0))[0]!);
    const until = now() + graceMs;
    for (let remaining = until - now(); remaining > 0; remaining = until - now()) {
      const report = await this.readReport(Math.min(remaining, READ_SLICE_MS));
      if (report === undefined) continue;
      try {
        const message = this.accept(report);
        if (message?.cmd === FrameCommand.MSG || message?.cmd === FrameCommand.ERROR) return;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        break;
      }
    }
    this.needsResync = true;
  }

  /**
   * Filters one report: other channels and stray continuations are dropped (they belong to
   * other hosts or to a message we gave up on); reports on our channel go to the assembler.
   */
  private accept(report: Uint8Array): FrameMessage | undefined {
    if (report.length !== REPORT_SIZE) {
      this.needsResync = true;
      throw new ProtocolError(ProtocolErrorCode.BAD_REPORT_SIZE, `report of ${report.length} bytes, expected 64`, {
        length: report.length,
      });
    }
    const cid = ((report[0]! << 24) >>> 0) + ((report[1]! << 16) | (report[2]! << 8) | report[3]!);
    if (cid !== this.cid) {
      log.debug("dropping a report of another channel", { cid });
      return undefined;
    }
    if ((report[4]! & FRAME_COMMAND_FLAG) === 0 && !this.assembler.inProgress) {
      log.debug("dropping a continuation of a message we are not reading", { seq: report[4] });
      return undefined;
    }
    try {
      return this.assembler.push(report);
    } catch (error) {
      this.needsResync = true;
      throw error;
    }
  }

  /**
   * Reads and drops reports until the link is quiet, so the next answer we read is really
   * ours. A key still working sends keepalives, so after one of those we wait longer.
   */
  private async resync(deadline: number): Promise<void> {
    log.debug("resynchronising: draining stale reports");
    this.assembler.reset();
    let quietFor = this.options.drainQuietMs;
    let dropped = 0;
    for (;;) {
      const remaining = deadline - now();
      if (remaining <= 0) break;
      const report = await this.readReport(Math.min(quietFor, remaining));
      if (report === undefined) break;
      dropped++;
      const isKeepalive = report.length === REPORT_SIZE && report[4] === (FrameCommand.KEEPALIVE | FRAME_COMMAND_FLAG);
      quietFor = isKeepalive ? Math.max(KEEPALIVE_QUIET_MS, this.options.drainQuietMs) : this.options.drainQuietMs;
    }
    this.assembler.reset();
    this.needsResync = false;
    if (dropped > 0) log.debug("resynchronised", { dropped });
  }

  private async allocateChannel(): Promise<void> {
    this.traffic = log.isTrafficEnabled();
    const nonce = this.options.randomBytes(INIT_NONCE_SIZE);
    const timeoutMs = this.options.initTimeoutMs;
    const deadline = now() + timeoutMs;
    await this.writeReport(encodeFrames(BROADCAST_CID, FrameCommand.INIT, encodeInitRequest(nonce))[0]!);
    const broadcast = new MessageAssembler(BROADCAST_CID);
    for (let remaining = timeoutMs; remaining > 0; remaining = deadline - now()) {
      const report = await this.readReport(Math.min(remaining, READ_SLICE_MS));
      if (report === undefined || report.length !== REPORT_SIZE) continue;
      const cid = ((report[0]! << 24) >>> 0) + ((report[1]! << 16) | (report[2]! << 8) | report[3]!);
      if (cid !== BROADCAST_CID) continue;
      let message: FrameMessage | undefined;
      try {
        message = broadcast.push(report);
      } catch (error) {
        log.debug("dropping a malformed report while allocating a channel", { error: String(error) });
        continue;
      }
      if (message === undefined) continue;
      if (message.cmd === FrameCommand.ERROR) throw new FramingErrorReceived(message.payload[0] ?? FramingError.OTHER);
      if (message.cmd !== FrameCommand.INIT) continue;
      const response = decodeInitResponse(message.payload);
      // Another host's INIT answer, or a late one of ours: only the echo of this nonce counts.
      if (!sameBytes(response.nonce, nonce)) continue;
      if (response.protocolVersion !== PROTOCOL_VERSION) {
        throw new UnsupportedProtocolVersion(response.protocolVersion, PROTOCOL_VERSION);
      }
      if (response.cid === BROADCAST_CID || response.cid === RESERVED_CID) {
        throw new ProtocolError(
          ProtocolErrorCode.BAD_FIELD,
          `INIT allocated the reserved channel 0x${response.cid.toString(16)}`,
        );
      }
      this.cid = response.cid;
      this.assembler.reset();
      this.channelInfo = {
        cid: response.cid,
        protocolVersion: response.protocolVersion,
        firmwareVersion: response.firmwareVersion,
        capabilities: response.capabilities,
      };
      log.debug("channel allocated", { cid: response.cid, path: this.port.info.path });
      return;
    }
    throw new TransportTimeout(timeoutMs, { details: { during: "INIT" } });
  }

  private async writeReport(report: Uint8Array): Promise<void> {
    if (this.traffic) logReport(log, "out", this.port.info.path, report);
    await this.port.write(report);
  }

  private async readReport(timeoutMs: number): Promise<Uint8Array | undefined> {
    const report = await this.port.read(timeoutMs);
    if (report !== undefined && this.traffic) logReport(log, "in", this.port.info.path, report);
    return report;
  }

  /** A vanished device fails the transport for good (until reopen); everything else passes through. */
  private onFailure(error: unknown): unknown {
    if (!(error instanceof KeyDisconnected)) return error;
    if (this.failure === undefined) {
      this.failure = error;
      log.warn("the key was disconnected", { path: this.port.info.path });
      for (const job of this.queue.splice(0)) this.settle(job, this.disconnectedError());
      this.port.close().catch((closeError: unknown) => {
        log.debug("closing the port of a vanished key failed", { error: String(closeError) });
      });
    }
    return error;
  }

  private sleep(job: Job, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        job.wake = undefined;
        resolve();
      }
      job.wake = done;
    });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A minimal host for tests: speaks to a KeyFirmware report by report, building frames with
 * encodeFrames and envelopes by hand, and checks the K9 signature of every response.
 */
import { randomBytes } from "node:crypto";
import { KeyFirmware } from "../../../native-mocks/firmware/firmware.js";
import { type KeyStore, MemoryKeyStore } from "../../../native-mocks/key-store.js";
import {
  BROADCAST_CID,
  type CommandCodec,
  decodeErrorBody,
  decodeFrames,
  decodeInitResponse,
  decodeResponseEnvelope,
  encodeFrames,
  encodeRequestEnvelope,
  FrameCommand,
  type License,
  parseReport,
  type Status,
  verifyResponse,
} from "../../../src/protocol/index.js";
import { newTestVendor, type TestVendor } from "../../conformance/vendor.js";

export const T0 = Date.UTC(2025, 0, 1);
export const DAY = 86_400_000;

export const LICENSES: readonly License[] = [
  { product: 1001, seats: 10, borrowable: 2, borrowDays: 30 },
  { product: 1002, seats: 5, borrowable: 1, borrowDays: 14 },
];

export interface Answer<T> {
  readonly status: Status;
  readonly value?: T;
  readonly reason?: string;
}

export const HOST_SERIAL = "KB-TEST-1";

/** The vendor every FirmwareHost key is provisioned with, unless told otherwise. */
export const HOST_VENDOR: TestVendor = newTestVendor();

export interface FirmwareHostOptions {
  readonly store?: KeyStore;
  readonly licenses?: readonly License[];
  readonly settleWindowMs?: number;
  /** The vendor key of a new key; `null` leaves it unprovisioned. Default HOST_VENDOR's. */
  readonly vendorPublicKey?: Uint8Array | null;
}

export class FirmwareHost {
  readonly outbox: Uint8Array[] = [];
  readonly store: KeyStore;
  realTime = T0;
  firmware: KeyFirmware;
  cid = 0;

  constructor(options: FirmwareHostOptions = {}) {
    this.store = options.store ?? new MemoryKeyStore();
    this.firmware = this.boot(options);
  }

  private boot(options: FirmwareHostOptions = {}): KeyFirmware {
    const vendorPublicKey = options.vendorPublicKey === undefined ? HOST_VENDOR.publicKey : options.vendorPublicKey;
    return KeyFirmware.boot(
      { store: this.store, emit: (report) => this.outbox.push(Uint8Array.from(report)), realNow: () => this.realTime },
      {
        serial: HOST_SERIAL,
        licenses: options.licenses ?? LICENSES,
        ...(options.settleWindowMs === undefined ? {} : { settleWindowMs: options.settleWindowMs }),
        ...(vendorPublicKey === null ? {} : { vendorPublicKey }),
      },
    );
  }

  /** A new firmware from the same store, as after a power cycle or process restart. */
  restart(): void {
    this.firmware.shutdown();
    this.firmware = this.boot();
    this.cid = 0;
  }

  send(report: Uint8Array): void {
    this.firmware.receive(report);
  }

  take(): Uint8Array[] {
    return this.outbox.splice(0);
  }

  /** Allocates a channel and remembers it. */
  init(): number {
    const nonce = randomBytes(8);
    this.take();
    this.send(encodeFrames(BROADCAST_CID, FrameCommand.INIT, nonce)[0]!);
    const reports = this.take();
    const message = decodeFrames(reports, BROADCAST_CID);
    const response = decodeInitResponse(message.payload);
    if (!Buffer.from(response.nonce).equals(nonce)) throw new Error("INIT nonce mismatch");
    this.cid = response.cid;
    return response.cid;
  }

  /** Sends a request frame and returns the raw (verified) response. */
  raw(command: number, body: Uint8Array, cid = this.cid): { status: Status; body: Uint8Array } {
    const nonce = randomBytes(16);
    this.take();
    for (const report of requestReports(cid, nonce, command, body)) this.send(report);
    return this.collect(nonce, command, cid);
  }

  /** Decodes the MSG response in the outbox (skipping keepalives) and verifies its signature. */
  collect(nonce: Uint8Array, command: number, cid = this.cid): { status: Status; body: Uint8Array } {
    const reports = this.take().filter((report) => {
      const packet = parseReport(report);
      return !(packet.kind === "init" && packet.cmd === FrameCommand.KEEPALIVE);
    });
    const message = decodeFrames(reports, cid);
    if (message.cmd !== FrameCommand.MSG)
      throw new Error(`expected MSG, got frame command 0x${message.cmd.toString(16)}`);
    const envelope = decodeResponseEnvelope(message.payload);
    verifyResponse(
      this.firmware.publicKey,
      nonce,
      envelope.command,
      envelope.status,
      envelope.body,
      envelope.signature,
    );
    if (envelope.command !== command) throw new Error("response for another command");
    return { status: envelope.status as Status, body: envelope.body };
  }

  call<Req, Res>(codec: CommandCodec<Req, Res>, request: Req): Answer<Res> {
    if (this.cid === 0) this.init();
    const { status, body } = this.raw(codec.command, codec.encodeRequest(request));
    if (status !== 0) return { status, reason: decodeErrorBody(body) };
    return { status, value: codec.decodeResponse(body) };
  }
}

export function requestReports(cid: number, nonce: Uint8Array, command: number, body: Uint8Array): Uint8Array[] {
  return encodeFrames(cid, FrameCommand.MSG, encodeRequestEnvelope({ nonce, command, body }));
}

export function bytes(size: number, fill: number): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

/** The frame command and first payload byte of an ERROR (or other) report. */
export function frameOf(report: Uint8Array): { cid: number; cmd: number; first: number } {
  const packet = parseReport(report);
  if (packet.kind !== "init") throw new Error("expected an init packet");
  return { cid: packet.cid, cmd: packet.cmd, first: packet.data[0]! };
}

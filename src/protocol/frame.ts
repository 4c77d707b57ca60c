import {
  CONT_DATA_SIZE,
  CONT_HEADER_SIZE,
  FRAME_COMMAND_FLAG,
  INIT_DATA_SIZE,
  INIT_HEADER_SIZE,
  MAX_MESSAGE_SIZE,
  MAX_SEQUENCE,
  REPORT_SIZE,
} from "./constants.js";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";

/** A whole framed message: channel, frame command (without the 0x80 flag) and payload. */
export interface FrameMessage {
  readonly cid: number;
  readonly cmd: number;
  readonly payload: Uint8Array;
}

export type Packet =
  | {
      readonly kind: "init";
      readonly cid: number;
      readonly cmd: number;
      readonly length: number;
      readonly data: Uint8Array;
    }
  | { readonly kind: "cont"; readonly cid: number; readonly seq: number; readonly data: Uint8Array };

/** Number of reports a payload of `length` bytes occupies. */
export function reportCount(length: number): number {
  return length <= INIT_DATA_SIZE ? 1 : 1 + Math.ceil((length - INIT_DATA_SIZE) / CONT_DATA_SIZE);
}

/**
 * Splits a message into 64-byte reports. All reports are views into one zero-filled buffer,
 * which keeps encoding to a single allocation.
 */
export function encodeFrames(cid: number, cmd: number, payload: Uint8Array): Uint8Array[] {
  if (payload.length > MAX_MESSAGE_SIZE) {
    throw new ProtocolError(
      ProtocolErrorCode.MESSAGE_TOO_LARGE,
      `message of ${payload.length} bytes exceeds the maximum of ${MAX_MESSAGE_SIZE}`,
      { length: payload.length },
    );
  }
  const count = reportCount(payload.length);
  const all = new Uint8Array(count * REPORT_SIZE);
  const reports = new Array<Uint8Array>(count);
  writeCid(all, 0, cid);
  all[4] = (cmd & 0x7f) | FRAME_COMMAND_FLAG;
  all[5] = (payload.length >>> 8) & 0xff;
  all[6] = payload.length & 0xff;
  const first = Math.min(payload.length, INIT_DATA_SIZE);
  all.set(payload.subarray(0, first), INIT_HEADER_SIZE);
  reports[0] = all.subarray(0, REPORT_SIZE);
  let consumed = first;
  for (let seq = 0; consumed < payload.length; seq++) {
    const base = (seq + 1) * REPORT_SIZE;
    writeCid(all, base, cid);
    all[base + 4] = seq;
    const chunk = Math.min(payload.length - consumed, CONT_DATA_SIZE);
    all.set(payload.subarray(consumed, consumed + chunk), base + CONT_HEADER_SIZE);
    consumed += chunk;
    reports[seq + 1] = all.subarray(base, base + REPORT_SIZE);
  }
  return reports;
}

function writeCid(target: Uint8Array, offset: number, cid: number): void {
  target[offset] = (cid >>> 24) & 0xff;
  target[offset + 1] = (cid >>> 16) & 0xff;
  target[offset + 2] = (cid >>> 8) & 0xff;
  target[offset + 3] = cid & 0xff;
}

function readCid(report: Uint8Array): number {
  return ((report[0]! << 24) >>> 0) + ((report[1]! << 16) | (report[2]! << 8) | report[3]!);
}

/** Reads one report's header. Throws `ProtocolError` for a report of the wrong size. */
export function parseReport(report: Uint8Array): Packet {
  if (report.length !== REPORT_SIZE) {
    throw new ProtocolError(
      ProtocolErrorCode.BAD_REPORT_SIZE,
      `report of ${report.length} bytes, expected ${REPORT_SIZE}`,
      { length: report.length },
    );
  }
  const cid = readCid(report);
  const fifth = report[4]!;
  if ((fifth & FRAME_COMMAND_FLAG) !== 0) {
    return {
      kind: "init",
      cid,
      cmd: fifth & 0x7f,
      length: (report[5]! << 8) | report[6]!,
      data: report.subarray(INIT_HEADER_SIZE),
    };
  }
  return { kind: "cont", cid, seq: fifth, data: report.subarray(CONT_HEADER_SIZE) };
}

/**
 * Reassembles reports into messages. Feed reports one by one; `push` returns the message when
 * its last report arrives, `undefined` while more are needed, and throws `ProtocolError` for
 * anything malformed (after which the assembler is reset and ready for a new message).
 *
 * With `channel` set, reports for other channels are rejected as WRONG_CHANNEL; a caller that
 * expects stray reports (a transport draining after a timeout) decides what to do with them.
 */
export class MessageAssembler {
  private cid = 0;
  private cmd = 0;
  private buffer: Uint8Array | undefined;
  private filled = 0;
  private nextSeq = 0;

  constructor(private channel?: number) {}

  setChannel(channel: number | undefined): void {
    this.channel = channel;
    this.reset();
  }

  get inProgress(): boolean {
    return this.buffer !== undefined;
  }

  reset(): void {
    this.buffer = undefined;
    this.filled = 0;
    this.nextSeq = 0;
  }

  push(report: Uint8Array): FrameMessage | undefined {
    const packet = parseReport(report);
    if (this.channel !== undefined && packet.cid !== this.channel) {
      throw new ProtocolError(
        ProtocolErrorCode.WRONG_CHANNEL,
        `report on channel 0x${packet.cid.toString(16)}, expected 0x${this.channel.toString(16)}`,
        { cid: packet.cid, expected: this.channel },
      );
    }
    if (packet.kind === "init") return this.startMessage(packet);
    return this.continueMessage(packet);
  }

  private startMessage(packet: Extract<Packet, { kind: "init" }>): FrameMessage | undefined {
    if (this.buffer !== undefined) {
      this.reset();
      throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_INIT, "init packet while a message was incomplete", {
        cid: packet.cid,
      });
    }
    if (packet.length > MAX_MESSAGE_SIZE) {
      throw new ProtocolError(
        ProtocolErrorCode.LENGTH_TOO_LARGE,
        `init packet declares ${packet.length} bytes, maximum is ${MAX_MESSAGE_SIZE}`,
        { length: packet.length },
      );
    }
    if (packet.length <= INIT_DATA_SIZE) {
      return { cid: packet.cid, cmd: packet.cmd, payload: packet.data.slice(0, packet.length) };
    }
    this.cid = packet.cid;
    this.cmd = packet.cmd;
    this.buffer = new Uint8Array(packet.length);
    this.buffer.set(packet.data);
    this.filled = INIT_DATA_SIZE;
    this.nextSeq = 0;
    return undefined;
  }

  private continueMessage(packet: Extract<Packet, { kind: "cont" }>): FrameMessage | undefined {
    const buffer = this.buffer;
    if (buffer === undefined) {
      throw new ProtocolError(ProtocolErrorCode.BAD_SEQUENCE, `continuation packet ${packet.seq} with no message`, {
        seq: packet.seq,
      });
    }
    if (packet.cid !== this.cid || packet.seq !== this.nextSeq || packet.seq > MAX_SEQUENCE) {
      const expected = this.nextSeq;
      this.reset();
      throw new ProtocolError(
        packet.cid !== this.cid ? ProtocolErrorCode.WRONG_CHANNEL : ProtocolErrorCode.BAD_SEQUENCE,
        `continuation packet ${packet.seq} on channel 0x${packet.cid.toString(16)}, expected ${expected}`,
        { seq: packet.seq, expected },
      );
    }
    const chunk = Math.min(buffer.length - this.filled, CONT_DATA_SIZE);
    buffer.set(packet.data.subarray(0, chunk), this.filled);
    this.filled += chunk;
    this.nextSeq++;
    if (this.filled < buffer.length) return undefined;
    const message = { cid: this.cid, cmd: this.cmd, payload: buffer };
    this.reset();
    return message;
  }
}

/** Decodes a complete list of reports into one message, or throws `ProtocolError`. */
export function decodeFrames(reports: readonly Uint8Array[], channel?: number): FrameMessage {
  const assembler = new MessageAssembler(channel);
  for (let i = 0; i < reports.length; i++) {
    const message = assembler.push(reports[i]!);
    if (message !== undefined) {
      if (i !== reports.length - 1) {
        throw new ProtocolError(ProtocolErrorCode.TRUNCATED, `${reports.length - i - 1} reports after the message end`);
      }
      return message;
    }
  }
  throw new ProtocolError(ProtocolErrorCode.TRUNCATED, "reports end before the message is complete", {
    reports: reports.length,
  });
}

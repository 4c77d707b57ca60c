import {
  CONT_DATA_SIZE,
  CONT_HEADER_SIZE,
  FRAME_COMMAND_FLAG,
  INIT_DATA_SIZE,
  INIT_HEADER_SIZE,
  MAX_MESSAGE_SIZE,
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
 * Encodes a message as consecutive 64-byte reports in one zero-filled buffer (report i is
 * bytes i*64 .. i*64+63). One allocation per message; copies are plain byte loops, which V8
 * runs faster than creating a subarray view per report.
 */
export function encodeMessage(cid: number, cmd: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  if (length > MAX_MESSAGE_SIZE) {
    throw new ProtocolError(
      ProtocolErrorCode.MESSAGE_TOO_LARGE,
      `message of ${length} bytes exceeds the maximum of ${MAX_MESSAGE_SIZE}`,
      { length },
    );
  }
  const count = reportCount(length);
  const all = allocateFromSlab(count * REPORT_SIZE);
  writeCid(all, 0, cid);
  all[4] = (cmd & 0x7f) | FRAME_COMMAND_FLAG;
  all[5] = (length >>> 8) & 0xff;
  all[6] = length & 0xff;
  const first = Math.min(length, INIT_DATA_SIZE);
  // Buffer#subarray goes through a species lookup that costs more than the copy; use a plain view.
  if (count > 1 && payload.constructor !== Uint8Array) {
    payload = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  copyBytes(payload, 0, all, INIT_HEADER_SIZE, first);
  let consumed = first;
  for (let seq = 0; consumed < length; seq++) {
    const base = (seq + 1) * REPORT_SIZE;
    writeCid(all, base, cid);
    all[base + 4] = seq;
    const chunk = Math.min(length - consumed, CONT_DATA_SIZE);
    const target = base + CONT_HEADER_SIZE;
    copyBytes(payload, consumed, all, target, chunk);
    consumed += chunk;
    if (consumed === length) all.fill(0, target + chunk, base + REPORT_SIZE);
  }
  if (count === 1) all.fill(0, INIT_HEADER_SIZE + first, REPORT_SIZE);
  return all;
}

/** Splits a message into 64-byte reports: views into the buffer `encodeMessage` returns. */
export function encodeFrames(cid: number, cmd: number, payload: Uint8Array): Uint8Array[] {
  const all = encodeMessage(cid, cmd, payload);
  const reports: Uint8Array[] = [];
  for (let offset = 0; offset < all.length; offset += REPORT_SIZE)
    reports.push(all.subarray(offset, offset + REPORT_SIZE));
  return reports;
}

const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_PIECE = 8 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabOffset = 0;

/**
 * A typed array over 64 bytes normally gets its own off-heap backing store, which cost more
 * than the whole encode. Messages are carved from a shared 64 KiB slab instead (as Node's Buffer
 * pool does); a slab is freed by the GC once no message views it. Pieces may hold old bytes:
 * callers overwrite or zero every byte.
 */
function allocateFromSlab(size: number): Uint8Array {
  if (size > SLAB_MAX_PIECE) return new Uint8Array(size);
  if (slabOffset + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabOffset = 0;
  }
  const piece = slab.subarray(slabOffset, slabOffset + size);
  slabOffset += (size + 7) & ~7;
  return piece;
}

/** Copies with `set` on a view for long runs and a byte loop for short ones, whichever V8 does faster. */
function copyBytes(from: Uint8Array, fromOffset: number, to: Uint8Array, toOffset: number, count: number): void {
  if (count >= COPY_WITH_SET_FROM) {
    to.set(from.subarray(fromOffset, fromOffset + count), toOffset);
    return;
  }
  for (let i = 0; i < count; i++) to[toOffset + i] = from[fromOffset + i]!;
}

const COPY_WITH_SET_FROM = 32;

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

  /** Takes one report, which must be exactly 64 bytes. */
  push(report: Uint8Array): FrameMessage | undefined {
    if (report.length !== REPORT_SIZE) {
      throw new ProtocolError(
        ProtocolErrorCode.BAD_REPORT_SIZE,
        `report of ${report.length} bytes, expected ${REPORT_SIZE}`,
        {
          length: report.length,
        },
      );
    }
    return this.pushAt(report, 0);
  }

  /** Takes the report at `offset` of a buffer of consecutive reports (no slicing needed). */
  pushAt(source: Uint8Array, offset: number): FrameMessage | undefined {
    if (offset < 0 || source.length < offset + REPORT_SIZE) {
      throw new ProtocolError(ProtocolErrorCode.BAD_REPORT_SIZE, `no whole report at offset ${offset}`, {
        length: source.length - offset,
      });
    }
    const cid =
      ((source[offset]! << 24) >>> 0) +
      ((source[offset + 1]! << 16) | (source[offset + 2]! << 8) | source[offset + 3]!);
    if (this.channel !== undefined && cid !== this.channel) {
      throw new ProtocolError(
        ProtocolErrorCode.WRONG_CHANNEL,
        `report on channel 0x${cid.toString(16)}, expected 0x${this.channel.toString(16)}`,
        { cid, expected: this.channel },
      );
    }
    const fifth = source[offset + 4]!;
    if ((fifth & FRAME_COMMAND_FLAG) !== 0) {
      return this.startMessage(source, offset, cid, fifth & 0x7f, (source[offset + 5]! << 8) | source[offset + 6]!);
    }
    return this.continueMessage(source, offset, cid, fifth);
  }

  private startMessage(
    source: Uint8Array,
    offset: number,
    cid: number,
    cmd: number,
    length: number,
  ): FrameMessage | undefined {
    if (this.buffer !== undefined) {
      this.reset();
      throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_INIT, "init packet while a message was incomplete", { cid });
    }
    if (length > MAX_MESSAGE_SIZE) {
      throw new ProtocolError(
        ProtocolErrorCode.LENGTH_TOO_LARGE,
        `init packet declares ${length} bytes, maximum is ${MAX_MESSAGE_SIZE}`,
        { length },
      );
    }
    const dataStart = offset + INIT_HEADER_SIZE;
    if (length <= INIT_DATA_SIZE) {
      // Copied, never sliced: Buffer#slice would share memory with a report the caller may reuse.
      const payload = allocateFromSlab(length);
      copyBytes(source, dataStart, payload, 0, length);
      return { cid, cmd, payload };
    }
    const buffer = allocateFromSlab(length);
    copyBytes(source, dataStart, buffer, 0, INIT_DATA_SIZE);
    this.cid = cid;
    this.cmd = cmd;
    this.buffer = buffer;
    this.filled = INIT_DATA_SIZE;
    this.nextSeq = 0;
    return undefined;
  }

  private continueMessage(source: Uint8Array, offset: number, cid: number, seq: number): FrameMessage | undefined {
    const buffer = this.buffer;
    if (buffer === undefined) {
      throw new ProtocolError(ProtocolErrorCode.BAD_SEQUENCE, `continuation packet ${seq} with no message`, { seq });
    }
    if (cid !== this.cid || seq !== this.nextSeq) {
      const expected = this.nextSeq;
      this.reset();
      throw new ProtocolError(
        cid !== this.cid ? ProtocolErrorCode.WRONG_CHANNEL : ProtocolErrorCode.BAD_SEQUENCE,
        `continuation packet ${seq} on channel 0x${cid.toString(16)}, expected sequence ${expected}`,
        { seq, expected },
      );
    }
    const filled = this.filled;
    const left = buffer.length - filled;
    const chunk = Math.min(left, CONT_DATA_SIZE);
    const dataStart = offset + CONT_HEADER_SIZE;
    copyBytes(source, dataStart, buffer, filled, chunk);
    this.filled = filled + chunk;
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

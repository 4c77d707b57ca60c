import { afterEach, describe, expect, it, vi } from "vitest";
import { KeyFirmware } from "../../../native-mocks/firmware/firmware.js";
import { MemoryKeyStore } from "../../../native-mocks/key-store.js";
import {
  AppCommand,
  BROADCAST_CID,
  decodeErrorBody,
  decodeFrames,
  decodeInitResponse,
  decodeResponseEnvelope,
  encodeFrames,
  encodeInitRequest,
  encodeRequestEnvelope,
  FrameCommand,
  FramingError,
  KeepaliveStatus,
  MAX_MESSAGE_SIZE,
  Status,
  verifyResponse,
} from "../../../src/protocol/index.js";
import { counting } from "./fixtures.js";
import { bytesOf } from "./hex.js";

/**
 * Section 4 of PROTOCOL.md ("What the key answers to each input"), row by row, against the
 * reference key: a firmware written from the document must behave like this.
 */

afterEach(() => {
  vi.useRealTimers();
});

class Bench {
  readonly sent: Uint8Array[] = [];
  readonly firmware = KeyFirmware.boot(
    { store: new MemoryKeyStore(), emit: (report) => this.sent.push(Uint8Array.from(report)) },
    { serial: "KB-DOC", licenses: [{ product: 7, seats: 4, borrowable: 2, borrowDays: 30 }] },
  );

  send(...reports: Uint8Array[]): Uint8Array[] {
    this.sent.length = 0;
    for (const report of reports) this.firmware.receive(report);
    return [...this.sent];
  }

  init(): number {
    const reports = this.send(...encodeFrames(BROADCAST_CID, FrameCommand.INIT, encodeInitRequest(counting(8, 1))));
    return decodeInitResponse(decodeFrames(reports, BROADCAST_CID).payload).cid;
  }

  /** The single ERROR frame the key sent, as [cid, code]. */
  error(reports: Uint8Array[]): [number, number] {
    const frame = decodeFrames(reports);
    expect(frame.cmd).toBe(FrameCommand.ERROR);
    return [frame.cid, frame.payload[0]!];
  }

  msg(cid: number, command: number, body: Uint8Array, nonce = counting(16, 0)): Uint8Array[] {
    return encodeFrames(cid, FrameCommand.MSG, encodeRequestEnvelope({ nonce, command, body }));
  }

  /** Sends a request and returns its verified response envelope. */
  call(cid: number, command: number, body: Uint8Array) {
    const nonce = counting(16, 0x30);
    const frame = decodeFrames(this.send(...this.msg(cid, command, body, nonce)), cid);
    expect(frame.cmd).toBe(FrameCommand.MSG);
    const envelope = decodeResponseEnvelope(frame.payload);
    verifyResponse(
      this.firmware.publicKey,
      nonce,
      envelope.command,
      envelope.status,
      envelope.body,
      envelope.signature,
    );
    return envelope;
  }
}

const PING = AppCommand.PING;
const init = (cid: number, cmd: number, length: number) =>
  bytesOf([cid.toString(16).padStart(8, "0"), (cmd | 0x80).toString(16), length.toString(16).padStart(4, "0")], 64);
const cont = (cid: number, seq: number) =>
  bytesOf([cid.toString(16).padStart(8, "0"), seq.toString(16).padStart(2, "0")], 64);

describe("what the key answers to each input (PROTOCOL.md section 4)", () => {
  it("a transfer that is not 64 bytes is ignored", () => {
    const bench = new Bench();
    expect(bench.send(new Uint8Array(63), new Uint8Array(65))).toEqual([]);
  });

  it("anything but INIT on the broadcast CID, and anything on an unallocated CID, is INVALID_CHANNEL", () => {
    const bench = new Bench();
    expect(bench.error(bench.send(bench.msg(BROADCAST_CID, PING, new Uint8Array(0))[0]!))).toEqual([
      BROADCAST_CID,
      FramingError.INVALID_CHANNEL,
    ]);
    expect(bench.error(bench.send(cont(BROADCAST_CID, 0)))[1]).toBe(FramingError.INVALID_CHANNEL);
    expect(bench.error(bench.send(bench.msg(0x1234, PING, new Uint8Array(0))[0]!))).toEqual([
      0x1234,
      FramingError.INVALID_CHANNEL,
    ]);
    expect(bench.error(bench.send(init(0x1234, FrameCommand.INIT, 8)))[1]).toBe(FramingError.INVALID_CHANNEL);
  });

  it("INIT with BCNT other than 8 is INVALID_LEN", () => {
    const bench = new Bench();
    expect(bench.error(bench.send(init(BROADCAST_CID, FrameCommand.INIT, 7)))).toEqual([
      BROADCAST_CID,
      FramingError.INVALID_LEN,
    ]);
  });

  it("INIT allocates distinct channels, never 0 or broadcast, and answers even while another channel is busy", () => {
    const bench = new Bench();
    const first = bench.init();
    bench.send(bench.msg(first, PING, new Uint8Array(100))[0]!);
    const second = bench.init();
    expect(new Set([first, second, 0, BROADCAST_CID]).size).toBe(4);
    // The first channel's message was not disturbed.
    const rest = bench.msg(first, PING, new Uint8Array(100)).slice(1);
    expect(decodeFrames(bench.send(...rest)).cmd).toBe(FrameCommand.MSG);
  });

  it("while a channel is mid-message, others get CHANNEL_BUSY and their CANCEL is ignored", () => {
    const bench = new Bench();
    const first = bench.init();
    const second = bench.init();
    bench.send(bench.msg(first, PING, new Uint8Array(100))[0]!);
    expect(bench.error(bench.send(bench.msg(second, PING, new Uint8Array(0))[0]!))).toEqual([
      second,
      FramingError.CHANNEL_BUSY,
    ]);
    expect(bench.send(...encodeFrames(second, FrameCommand.CANCEL, new Uint8Array(0)))).toEqual([]);
    expect(bench.error(bench.send(cont(second, 0)))).toEqual([second, FramingError.INVALID_SEQ]);
  });

  it("BCNT over 7609 is INVALID_LEN", () => {
    const bench = new Bench();
    const cid = bench.init();
    expect(bench.error(bench.send(init(cid, FrameCommand.MSG, MAX_MESSAGE_SIZE + 1)))[1]).toBe(
      FramingError.INVALID_LEN,
    );
  });

  it("a MSG init packet mid-message is INVALID_SEQ and both are dropped; the channel then works", () => {
    const bench = new Bench();
    const cid = bench.init();
    bench.send(bench.msg(cid, PING, new Uint8Array(100))[0]!);
    expect(bench.error(bench.send(bench.msg(cid, PING, new Uint8Array(0))[0]!))[1]).toBe(FramingError.INVALID_SEQ);
    expect(bench.error(bench.send(cont(cid, 0)))[1]).toBe(FramingError.INVALID_SEQ);
    expect(bench.call(cid, PING, bytesOf("01")).status).toBe(Status.OK);
  });

  it("a continuation with no message, or out of order, is INVALID_SEQ", () => {
    const bench = new Bench();
    const cid = bench.init();
    expect(bench.error(bench.send(cont(cid, 0)))[1]).toBe(FramingError.INVALID_SEQ);
    const reports = bench.msg(cid, PING, new Uint8Array(200));
    bench.send(reports[0]!);
    expect(bench.error(bench.send(reports[2]!))[1]).toBe(FramingError.INVALID_SEQ);
    expect(bench.call(cid, PING, new Uint8Array(200)).status).toBe(Status.OK);
  });

  it("a MSG shorter than nonce and command is INVALID_LEN", () => {
    const bench = new Bench();
    const cid = bench.init();
    expect(bench.error(bench.send(...encodeFrames(cid, FrameCommand.MSG, new Uint8Array(16))))[1]).toBe(
      FramingError.INVALID_LEN,
    );
  });

  it("KEEPALIVE, ERROR or an unknown frame command from the host is INVALID_CMD", () => {
    const bench = new Bench();
    const cid = bench.init();
    for (const cmd of [FrameCommand.KEEPALIVE, FrameCommand.ERROR, 0x55]) {
      expect(bench.error(bench.send(init(cid, cmd, 0)))[1], `cmd ${cmd}`).toBe(FramingError.INVALID_CMD);
    }
  });

  it("a message left incomplete for 500 ms is MSG_TIMEOUT; each packet restarts the 500 ms", () => {
    vi.useFakeTimers();
    const bench = new Bench();
    const cid = bench.init();
    const reports = bench.msg(cid, PING, new Uint8Array(200));
    bench.send(reports[0]!);
    vi.advanceTimersByTime(400);
    bench.send(reports[1]!);
    vi.advanceTimersByTime(400);
    expect(bench.sent).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(bench.error([...bench.sent])).toEqual([cid, FramingError.MSG_TIMEOUT]);
  });

  it("an unknown application command is answered, signed, with UNKNOWN_COMMAND and the command echoed", () => {
    const bench = new Bench();
    const cid = bench.init();
    const envelope = bench.call(cid, 0x7e, new Uint8Array(0));
    expect(envelope).toMatchObject({ command: 0x7e, status: Status.UNKNOWN_COMMAND });
    expect(decodeErrorBody(envelope.body)).toContain("unknown command");
  });

  it("a body that does not decode is BAD_REQUEST with a reason", () => {
    const bench = new Bench();
    const cid = bench.init();
    const envelope = bench.call(cid, AppCommand.SETTLE, new Uint8Array(3));
    expect(envelope.status).toBe(Status.BAD_REQUEST);
    expect(decodeErrorBody(envelope.body)).not.toBe("");
  });
});

describe("KEEPALIVE and CANCEL (PROTOCOL.md section 4)", () => {
  it("a request that runs long sends its first KEEPALIVE within 100 ms and then at least every 100 ms", () => {
    vi.useFakeTimers();
    const bench = new Bench();
    const cid = bench.init();
    bench.firmware.holdNextRequests({ durationMs: 450, keepalive: KeepaliveStatus.PROCESSING });
    bench.send(...bench.msg(cid, PING, bytesOf("aa")));
    const seen: Array<{ at: number; cmd: number }> = [];
    for (let at = 0; at <= 500; at += 10) {
      for (const report of bench.sent.splice(0)) {
        if (report[4]! & 0x80) seen.push({ at, cmd: report[4]! & 0x7f });
      }
      vi.advanceTimersByTime(10);
    }
    const keepalives = seen.filter((entry) => entry.cmd === FrameCommand.KEEPALIVE).map((entry) => entry.at);
    expect(keepalives.length).toBeGreaterThanOrEqual(4);
    expect(keepalives[0]).toBeLessThanOrEqual(100);
    for (let i = 1; i < keepalives.length; i++) expect(keepalives[i]! - keepalives[i - 1]!).toBeLessThanOrEqual(100);
    expect(seen.at(-1)?.cmd).toBe(FrameCommand.MSG);
    expect(seen.at(-1)!.at).toBeGreaterThan(keepalives.at(-1)!);
  });

  it("a MSG while a request is pending is CHANNEL_BUSY; CANCEL answers the request, signed, with CANCELLED", () => {
    vi.useFakeTimers();
    const bench = new Bench();
    const cid = bench.init();
    bench.firmware.holdNextRequests({ durationMs: 1_000 });
    const nonce = counting(16, 0x70);
    bench.send(...bench.msg(cid, AppCommand.GET_TIME, new Uint8Array(0), nonce));
    expect(bench.error(bench.send(bench.msg(cid, PING, new Uint8Array(0))[0]!))[1]).toBe(FramingError.CHANNEL_BUSY);
    const frame = decodeFrames(bench.send(...encodeFrames(cid, FrameCommand.CANCEL, new Uint8Array(0))));
    const envelope = decodeResponseEnvelope(frame.payload);
    expect(envelope).toMatchObject({ command: AppCommand.GET_TIME, status: Status.CANCELLED });
    verifyResponse(
      bench.firmware.publicKey,
      nonce,
      envelope.command,
      envelope.status,
      envelope.body,
      envelope.signature,
    );
    bench.sent.length = 0;
    vi.advanceTimersByTime(2_000);
    expect(bench.sent, "the cancelled request never runs").toEqual([]);
  });

  it("CANCEL of a message mid-reassembly drops it without an answer; CANCEL with nothing pending is ignored", () => {
    const bench = new Bench();
    const cid = bench.init();
    bench.send(bench.msg(cid, PING, new Uint8Array(100))[0]!);
    expect(bench.send(...encodeFrames(cid, FrameCommand.CANCEL, new Uint8Array(0)))).toEqual([]);
    expect(bench.error(bench.send(cont(cid, 0)))[1]).toBe(FramingError.INVALID_SEQ);
    expect(bench.send(...encodeFrames(cid, FrameCommand.CANCEL, new Uint8Array(0)))).toEqual([]);
  });

  it("INIT on an own channel drops its partial message and answers with the same CID", () => {
    const bench = new Bench();
    const cid = bench.init();
    bench.send(bench.msg(cid, PING, new Uint8Array(100))[0]!);
    const answer = decodeFrames(bench.send(...encodeFrames(cid, FrameCommand.INIT, encodeInitRequest(counting(8, 9)))));
    expect(answer.cid).toBe(cid);
    expect(decodeInitResponse(answer.payload)).toMatchObject({ cid, nonce: counting(8, 9), protocolVersion: 1 });
    expect(bench.error(bench.send(cont(cid, 0)))[1]).toBe(FramingError.INVALID_SEQ);
  });
});

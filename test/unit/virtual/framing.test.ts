import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AppCommand,
  BROADCAST_CID,
  COMMAND_CODECS,
  decodeFrames,
  decodeInitResponse,
  decodeResponseEnvelope,
  encodeFrames,
  FrameCommand,
  FramingError,
  KeepaliveStatus,
  ProtocolErrorCode,
  Status,
  verifyResponse,
} from "../../../src/protocol/index.js";
import { FirmwareHost, frameOf, requestReports } from "./key-host.js";

afterEach(() => {
  vi.useRealTimers();
});

function errorOf(host: FirmwareHost): { cid: number; code: number } {
  const reports = host.take();
  expect(reports).toHaveLength(1);
  const frame = frameOf(reports[0]!);
  expect(frame.cmd).toBe(FrameCommand.ERROR);
  return { cid: frame.cid, code: frame.first };
}

function pingReports(cid: number, size: number) {
  const nonce = randomBytes(16);
  return { nonce, reports: requestReports(cid, nonce, AppCommand.PING, randomBytes(size)) };
}

describe("channels", () => {
  it("INIT allocates distinct channels, never 0 or broadcast, and echoes the nonce", () => {
    const host = new FirmwareHost();
    const cids = new Set<number>();
    for (let i = 0; i < 20; i++) cids.add(host.init());
    expect(cids.size).toBe(20);
    expect(cids.has(0)).toBe(false);
    expect(cids.has(BROADCAST_CID)).toBe(false);
  });

  it("INIT with a wrong length is INVALID_LEN; INIT on an own channel keeps the channel", () => {
    const host = new FirmwareHost();
    host.send(encodeFrames(BROADCAST_CID, FrameCommand.INIT, new Uint8Array(5))[0]!);
    expect(errorOf(host).code).toBe(FramingError.INVALID_LEN);
    const cid = host.init();
    host.send(encodeFrames(cid, FrameCommand.INIT, new Uint8Array(8))[0]!);
    expect(decodeInitResponse(decodeFrames(host.take(), cid).payload).cid).toBe(cid);
  });

  it("a message on an unallocated channel or on broadcast is INVALID_CHANNEL", () => {
    const host = new FirmwareHost();
    const { reports } = pingReports(0x1234, 4);
    host.send(reports[0]!);
    expect(errorOf(host)).toEqual({ cid: 0x1234, code: FramingError.INVALID_CHANNEL });
    host.send(requestReports(BROADCAST_CID, randomBytes(16), AppCommand.PING, new Uint8Array(1))[0]!);
    expect(errorOf(host).code).toBe(FramingError.INVALID_CHANNEL);
  });

  it("an unknown frame command is INVALID_CMD", () => {
    const host = new FirmwareHost();
    const cid = host.init();
    host.send(encodeFrames(cid, 0x55, new Uint8Array(0))[0]!);
    expect(errorOf(host).code).toBe(FramingError.INVALID_CMD);
  });

  it("a second channel is told CHANNEL_BUSY while the first is mid-message, then works", () => {
    const host = new FirmwareHost();
    const first = host.init();
    const second = host.init();
    const long = pingReports(first, 200);
    host.send(long.reports[0]!);
    host.send(pingReports(second, 4).reports[0]!);
    expect(errorOf(host)).toEqual({ cid: second, code: FramingError.CHANNEL_BUSY });
    for (const report of long.reports.slice(1)) host.send(report);
    expect(host.collect(long.nonce, AppCommand.PING, first).status).toBe(Status.OK);
    host.cid = second;
    expect(host.raw(AppCommand.PING, Uint8Array.of(9)).status).toBe(Status.OK);
  });
});

describe("reassembly", () => {
  it("reassembles a request of many reports and answers with many reports", () => {
    const host = new FirmwareHost();
    host.init();
    const data = randomBytes(1024);
    const { status, body } = host.raw(AppCommand.PING, data);
    expect(status).toBe(Status.OK);
    expect(Buffer.from(body).equals(data)).toBe(true);
  });

  it("a continuation out of sequence is INVALID_SEQ and the channel recovers", () => {
    const host = new FirmwareHost();
    const cid = host.init();
    const { reports } = pingReports(cid, 200);
    host.send(reports[0]!);
    host.send(reports[2]!);
    expect(errorOf(host).code).toBe(FramingError.INVALID_SEQ);
    expect(host.raw(AppCommand.PING, Uint8Array.of(1)).status).toBe(Status.OK);
  });

  it("a continuation with no message started is INVALID_SEQ", () => {
    const host = new FirmwareHost();
    const cid = host.init();
    host.send(pingReports(cid, 200).reports[1]!);
    expect(errorOf(host).code).toBe(FramingError.INVALID_SEQ);
  });

  it("a declared length over the maximum is INVALID_LEN", () => {
    const host = new FirmwareHost();
    const cid = host.init();
    const report = encodeFrames(cid, FrameCommand.MSG, new Uint8Array(20))[0]!;
    report[5] = 0xff;
    report[6] = 0xff;
    host.send(report);
    expect(errorOf(host).code).toBe(FramingError.INVALID_LEN);
  });

  it("a message shorter than nonce + command is INVALID_LEN", () => {
    const host = new FirmwareHost();
    const cid = host.init();
    host.send(encodeFrames(cid, FrameCommand.MSG, new Uint8Array(10))[0]!);
    expect(errorOf(host).code).toBe(FramingError.INVALID_LEN);
  });

  it("an incomplete message abandoned for 500 ms is dropped with MSG_TIMEOUT", () => {
    vi.useFakeTimers();
    const host = new FirmwareHost();
    const cid = host.init();
    const { reports } = pingReports(cid, 200);
    host.send(reports[0]!);
    vi.advanceTimersByTime(300);
    host.send(reports[1]!);
    vi.advanceTimersByTime(499);
    expect(host.take()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(errorOf(host)).toEqual({ cid, code: FramingError.MSG_TIMEOUT });
    expect(host.raw(AppCommand.PING, Uint8Array.of(1)).status).toBe(Status.OK);
  });
});

describe("slow requests", () => {
  it("a held request sends KEEPALIVE every 100 ms, then the real answer", () => {
    vi.useFakeTimers();
    const host = new FirmwareHost();
    const cid = host.init();
    host.firmware.holdNextRequests({ durationMs: 350, keepalive: KeepaliveStatus.BUSY });
    const { nonce, reports } = pingReports(cid, 3);
    for (const report of reports) host.send(report);
    vi.advanceTimersByTime(349);
    const keepalives = host.take().map(frameOf);
    expect(keepalives).toHaveLength(4);
    expect(keepalives.every((k) => k.cmd === FrameCommand.KEEPALIVE && k.first === KeepaliveStatus.BUSY)).toBe(true);
    vi.advanceTimersByTime(1);
    expect(host.collect(nonce, AppCommand.PING, cid).status).toBe(Status.OK);
  });

  it("CANCEL of a stalled request answers CANCELLED and the request never runs", () => {
    vi.useFakeTimers();
    const host = new FirmwareHost();
    const cid = host.init();
    host.firmware.holdNextRequests({ durationMs: 10_000 });
    const nonce = randomBytes(16);
    const body = COMMAND_CODECS.BORROW.encodeRequest({
      opId: randomBytes(16),
      product: 1001,
      days: 30,
      binding: new Uint8Array(32),
      tag: new Uint8Array(16),
      client: "ws",
    });
    for (const report of requestReports(cid, nonce, AppCommand.BORROW, body)) host.send(report);
    vi.advanceTimersByTime(1000);
    expect(host.take()).toEqual([]);
    host.send(encodeFrames(cid, FrameCommand.CANCEL, new Uint8Array(0))[0]!);
    expect(host.collect(nonce, AppCommand.BORROW, cid).status).toBe(Status.CANCELLED);
    vi.advanceTimersByTime(20_000);
    expect(host.take()).toEqual([]);
    expect(host.firmware.snapshot().borrows).toEqual([]);
  });

  it("another channel gets CHANNEL_BUSY while a request is pending", () => {
    vi.useFakeTimers();
    const host = new FirmwareHost();
    const first = host.init();
    const second = host.init();
    host.firmware.holdNextRequests({ durationMs: 1000 });
    for (const report of pingReports(first, 3).reports) host.send(report);
    host.send(pingReports(second, 3).reports[0]!);
    expect(errorOf(host)).toEqual({ cid: second, code: FramingError.CHANNEL_BUSY });
  });
});

describe("K9 authenticity", () => {
  it("every response verifies with the key's public key, and not for another nonce or with one byte changed", () => {
    const host = new FirmwareHost();
    const cid = host.init();
    const nonce = randomBytes(16);
    for (const report of requestReports(cid, nonce, AppCommand.GET_TIME, new Uint8Array(0))) host.send(report);
    const envelope = decodeResponseEnvelope(decodeFrames(host.take(), cid).payload);
    const check = (n: Uint8Array, body: Uint8Array) => () =>
      verifyResponse(host.firmware.publicKey, n, envelope.command, envelope.status, body, envelope.signature);
    expect(check(nonce, envelope.body)).not.toThrow();
    expect(check(randomBytes(16), envelope.body)).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.BAD_SIGNATURE }),
    );
    const altered = Uint8Array.from(envelope.body);
    altered[0] = altered[0]! ^ 1;
    expect(check(nonce, altered)).toThrow(expect.objectContaining({ code: ProtocolErrorCode.BAD_SIGNATURE }));
  });

  it("refusals are signed too", () => {
    const host = new FirmwareHost();
    host.init();
    // collect() verifies the signature and throws if it does not verify
    expect(host.raw(AppCommand.SETTLE, new Uint8Array(3)).status).toBe(Status.BAD_REQUEST);
  });
});

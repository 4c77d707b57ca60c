import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { VirtualKeyErrorCode } from "../../../native-mocks/errors.js";
import type { HostPort } from "../../../native-mocks/host-port.js";
import { VirtualKey } from "../../../native-mocks/virtual-key.js";
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
  parseReport,
  Status,
  verifyResponse,
} from "../../../src/protocol/index.js";
import { DAY, frameOf, LICENSES, requestReports, T0 } from "./key-host.js";

afterEach(() => {
  vi.useRealTimers();
});

function newKey(latencyMs = 0, extra: Partial<ConstructorParameters<typeof VirtualKey>[0]> = {}): VirtualKey {
  const key = new VirtualKey({ serial: "KB-V-1", licenses: LICENSES, latencyMs, realNow: () => T0, ...extra });
  key.plug();
  return key;
}

async function initChannel(port: HostPort): Promise<number> {
  await port.write(encodeFrames(BROADCAST_CID, FrameCommand.INIT, randomBytes(8))[0]!);
  const report = await port.read(1000);
  return decodeInitResponse(decodeFrames([report!]).payload).cid;
}

async function exchange(port: HostPort, cid: number, command: number, body: Uint8Array, key: VirtualKey) {
  const nonce = randomBytes(16);
  for (const report of requestReports(cid, nonce, command, body)) await port.write(report);
  const reports: Uint8Array[] = [];
  for (;;) {
    const report = await port.read(2000);
    if (report === undefined) throw new Error("no answer");
    const packet = parseReport(report);
    if (packet.kind === "init" && packet.cmd === FrameCommand.KEEPALIVE) continue;
    reports.push(report);
    try {
      const envelope = decodeResponseEnvelope(decodeFrames(reports, cid).payload);
      verifyResponse(key.publicKey, nonce, envelope.command, envelope.status, envelope.body, envelope.signature);
      return envelope;
    } catch (error) {
      if ((error as { code?: string }).code !== ProtocolErrorCode.TRUNCATED) throw error;
    }
  }
}

describe("VirtualKey wire timing", () => {
  it("with latency 0 a response is readable as soon as the request is written", async () => {
    const key = newKey(0);
    const port = key.open();
    const cid = await initChannel(port);
    const nonce = randomBytes(16);
    await port.write(requestReports(cid, nonce, AppCommand.PING, Uint8Array.of(7))[0]!);
    expect(await port.read(0)).toBeInstanceOf(Uint8Array);
  });

  it("with latency 1 ms the request reaches the key after 1 ms and the answer is readable 1 ms later", async () => {
    vi.useFakeTimers();
    const key = newKey(1);
    const port = key.open();
    const written = port.write(encodeFrames(BROADCAST_CID, FrameCommand.INIT, randomBytes(8))[0]!);
    expect(key.counters.toKey).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await written;
    expect(key.counters.toKey).toBe(1);
    expect(await port.read(0)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await port.read(0)).toBeInstanceOf(Uint8Array);
  });

  it("a read resolves undefined when its timeout passes", async () => {
    vi.useFakeTimers();
    const port = newKey(0).open();
    const read = port.read(50);
    await vi.advanceTimersByTimeAsync(50);
    expect(await read).toBeUndefined();
  });
});

describe("VirtualKey faults", () => {
  it("unplug at report N loses that report and fails the port; the state written before survives replug", async () => {
    const key = newKey(0);
    const port = key.open();
    const cid = await initChannel(port);
    const borrowBody = COMMAND_CODECS.BORROW.encodeRequest({
      opId: randomBytes(16),
      product: 1001,
      days: 3,
      binding: new Uint8Array(32),
      tag: new Uint8Array(16),
      client: "ws",
    });
    const request = requestReports(cid, randomBytes(16), AppCommand.BORROW, borrowBody);
    // the key is pulled on the first report of its response: the request arrived, the answer is lost
    key.injectFault({ kind: "unplug", atReport: request.length + 1 });
    for (const report of request) await port.write(report);
    expect(key.plugged).toBe(false);
    await expect(port.read(10)).rejects.toMatchObject({ code: VirtualKeyErrorCode.DEVICE_UNPLUGGED });
    await expect(port.write(new Uint8Array(64))).rejects.toMatchObject({ code: VirtualKeyErrorCode.DEVICE_UNPLUGGED });
    key.plug();
    expect(key.state.borrows).toHaveLength(1);
  });

  it("unplug at the first report fails the write that carries it", async () => {
    const key = newKey(0);
    const port = key.open();
    key.injectFault({ kind: "unplug", atReport: 1 });
    await expect(port.write(new Uint8Array(64))).rejects.toMatchObject({ code: VirtualKeyErrorCode.DEVICE_UNPLUGGED });
  });

  it("a dropped request report means no answer; a corrupted response fails the signature check", async () => {
    const key = newKey(0);
    const port = key.open();
    const cid = await initChannel(port);
    key.injectFault({ kind: "drop", direction: "toKey" });
    await port.write(requestReports(cid, randomBytes(16), AppCommand.PING, Uint8Array.of(1))[0]!);
    expect(await port.read(0)).toBeUndefined();
    key.injectFault({ kind: "corrupt", direction: "toHost", byteIndex: 30 });
    await expect(exchange(port, cid, AppCommand.GET_TIME, new Uint8Array(0), key)).rejects.toMatchObject({
      code: ProtocolErrorCode.BAD_SIGNATURE,
    });
    const envelope = await exchange(port, cid, AppCommand.GET_TIME, new Uint8Array(0), key);
    expect(envelope.status).toBe(Status.OK);
  });

  it("busy sends KEEPALIVE reports before the answer", async () => {
    vi.useFakeTimers();
    const key = newKey(0);
    const port = key.open();
    const cid = await initChannel(port);
    key.injectFault({ kind: "busy", ms: 250, keepalive: "PROCESSING" });
    await port.write(requestReports(cid, randomBytes(16), AppCommand.PING, Uint8Array.of(1))[0]!);
    await vi.advanceTimersByTimeAsync(250);
    const frames: string[] = [];
    for (let report = await port.read(0); report !== undefined; report = await port.read(0)) {
      const packet = parseReport(report);
      if (packet.kind === "cont") frames.push("cont");
      else frames.push(packet.cmd === FrameCommand.KEEPALIVE ? `keepalive ${packet.data[0]}` : `cmd ${packet.cmd}`);
    }
    const k = `keepalive ${KeepaliveStatus.PROCESSING}`;
    expect(frames).toEqual([k, k, k, `cmd ${FrameCommand.MSG}`, "cont"]);
  });

  it("reboot loses channels but keeps the state", async () => {
    const key = newKey(0);
    const port = key.open();
    const cid = await initChannel(port);
    key.advanceClock(DAY);
    key.reboot();
    await port.write(requestReports(cid, randomBytes(16), AppCommand.PING, Uint8Array.of(1))[0]!);
    const error = frameOf((await port.read(0))!);
    expect([error.cmd, error.first]).toEqual([FrameCommand.ERROR, FramingError.INVALID_CHANNEL]);
    expect(key.keyTime).toBe(T0 + DAY);
  });
});

describe("VirtualKey clock", () => {
  it("advanceClock and setClock move the key time, persisted across unplug and replug", () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-virtual-key-"));
    try {
      const stateFile = join(dir, "key.json");
      const key = newKey(0, { stateFile });
      key.advanceClock(31 * DAY);
      expect(key.keyTime).toBe(T0 + 31 * DAY);
      key.unplug();
      key.plug();
      expect(key.keyTime).toBe(T0 + 31 * DAY);
      key.setClock(T0 + 5);
      const reopened = new VirtualKey({ serial: "KB-V-1", stateFile, realNow: () => T0 });
      expect(reopened.keyTime).toBe(T0 + 5);
      expect(() => new VirtualKey({ serial: "KB-OTHER", stateFile })).toThrow(
        expect.objectContaining({ code: VirtualKeyErrorCode.SERIAL_MISMATCH }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

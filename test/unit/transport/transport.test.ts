import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BROADCAST_CID,
  encodeFrames,
  encodeInitResponse,
  FrameCommand,
  FramingError,
  KeepaliveStatus,
  MAX_MESSAGE_SIZE,
  REPORT_SIZE,
} from "../../../src/protocol/index.js";
import { Transport } from "../../../src/transport/transport.js";
import { FAKE_CID, FakePort, fakeKey } from "./fake-key.js";

const bytes = (...values: number[]) => Uint8Array.from(values);

function keepalive(status: number): Uint8Array {
  return Uint8Array.from(encodeFrames(FAKE_CID, FrameCommand.KEEPALIVE, bytes(status))[0]!);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
  return "resolved";
}

describe("Transport channel allocation (INIT)", () => {
  it("allocates the channel the key names and reports its versions", async () => {
    const transport = await Transport.open(fakeKey());
    expect(transport.channel).toEqual({
      cid: FAKE_CID,
      protocolVersion: 1,
      firmwareVersion: "1.2.3",
      capabilities: 0x0f,
    });
    await transport.close();
  });

  it("ignores INIT answers carrying another host's nonce", async () => {
    const port = fakeKey({ cid: 0x0a0b0c0d });
    const answer = port.onMessage;
    port.onMessage = (message) => {
      if (message.cmd === FrameCommand.INIT) {
        const foreign = encodeInitResponse({
          nonce: new Uint8Array(8).fill(0xee),
          cid: 0x77777777,
          protocolVersion: 1,
          firmwareVersion: "9.9.9",
          capabilities: 0,
        });
        port.sendMessage(BROADCAST_CID, FrameCommand.INIT, foreign);
      }
      answer(message);
    };
    const transport = await Transport.open(port, { randomBytes: (size) => new Uint8Array(size).fill(1) });
    expect(transport.channel.cid).toBe(0x0a0b0c0d);
    await transport.close();
  });

  it("refuses a key speaking another protocol version and closes the port", async () => {
    const port = fakeKey({ protocolVersion: 2 });
    expect(await codeOf(Transport.open(port))).toBe("KEY_PROTOCOL_UNSUPPORTED");
    expect(port.closed).toBe(true);
  });

  it("times out when the key never answers INIT", async () => {
    const port = new FakePort();
    expect(await codeOf(Transport.open(port, { initTimeoutMs: 30 }))).toBe("TRANSPORT_TIMEOUT");
    expect(port.closed).toBe(true);
  });
});

describe("Transport exchanges", () => {
  it("round-trips payloads of every size up to the maximum message", async () => {
    const transport = await Transport.open(fakeKey());
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: MAX_MESSAGE_SIZE }), async (payload) => {
        expect(await transport.exchange(payload)).toEqual(payload);
      }),
      { numRuns: 40 },
    );
    const largest = new Uint8Array(MAX_MESSAGE_SIZE).map((_, i) => i & 0xff);
    expect(await transport.exchange(largest)).toEqual(largest);
    await transport.close();
  });

  it("runs one exchange at a time: concurrent callers get their own answers, reports never interleave", async () => {
    const port = fakeKey();
    const transport = await Transport.open(port);
    const payloads = Array.from({ length: 10 }, (_, i) => new Uint8Array(100 + i).fill(i));
    const answers = await Promise.all(payloads.map((payload) => transport.exchange(payload)));
    expect(answers).toEqual(payloads);
    const messages = port.messagesOf(FrameCommand.MSG);
    expect(messages.map((message) => message.payload)).toEqual(payloads);
    await transport.close();
  });

  it("refuses callers beyond the queue limit with TRANSPORT_QUEUE_FULL", async () => {
    const port = fakeKey({ answer: () => {} });
    const transport = await Transport.open(port, { queueLimit: 2, timeoutMs: 200 });
    const running = codeOf(transport.exchange(bytes(1)));
    await new Promise((resolve) => setImmediate(resolve));
    const queued = [codeOf(transport.exchange(bytes(2))), codeOf(transport.exchange(bytes(3)))];
    expect(await codeOf(transport.exchange(bytes(4)))).toBe("TRANSPORT_QUEUE_FULL");
    expect(await running).toBe("TRANSPORT_TIMEOUT");
    expect(await Promise.all(queued)).toEqual(["TRANSPORT_TIMEOUT", "TRANSPORT_TIMEOUT"]);
    await transport.close();
  });

  it("counts time spent queued against the caller's timeout", async () => {
    let answered = 0;
    const port = fakeKey({
      answer: (message, p) => {
        answered++;
        setTimeout(() => p.sendMessage(message.cid, FrameCommand.MSG, message.payload), 150);
      },
    });
    const transport = await Transport.open(port);
    const slow = transport.exchange(bytes(1), { timeoutMs: 1_000 });
    await new Promise((resolve) => setImmediate(resolve));
    const impatient = codeOf(transport.exchange(bytes(2), { timeoutMs: 40 }));
    expect(await impatient).toBe("TRANSPORT_TIMEOUT");
    expect(await slow).toEqual(bytes(1));
    // The impatient call expired while queued, so it was never sent.
    expect(answered).toBe(1);
    await transport.close();
  });
});

describe("Transport exchange timing", () => {
  it("tells a queued caller when its request leaves the queue, not when it was queued", async () => {
    const answers: ((() => void) | undefined)[] = [];
    const port = fakeKey({
      answer: (message, p) => answers.push(() => p.sendMessage(message.cid, FrameCommand.MSG, message.payload)),
    });
    const transport = await Transport.open(port);
    const started: number[] = [];
    const first = transport.exchange(bytes(1), { onStart: () => started.push(1) });
    const second = transport.exchange(bytes(2), { onStart: () => started.push(2) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([1]);
    answers.shift()?.();
    expect(await first).toEqual(bytes(1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([1, 2]);
    answers.shift()?.();
    expect(await second).toEqual(bytes(2));
    await transport.close();
  });

  it("never starts a request that expired or was aborted while queued", async () => {
    const port = fakeKey({ answer: () => {} });
    const transport = await Transport.open(port, { timeoutMs: 100 });
    const started: number[] = [];
    const running = codeOf(transport.exchange(bytes(1), { onStart: () => started.push(1) }));
    const controller = new AbortController();
    const aborted = codeOf(transport.exchange(bytes(2), { signal: controller.signal, onStart: () => started.push(2) }));
    controller.abort();
    expect(await aborted).toBe("TRANSPORT_ABORTED");
    expect(await running).toBe("TRANSPORT_TIMEOUT");
    expect(started).toEqual([1]);
    await transport.close();
  });
});

describe("Transport abort", () => {
  it("removes an aborted queued call without sending it", async () => {
    const port = fakeKey({
      answer: (message, p) => setTimeout(() => p.sendMessage(message.cid, FrameCommand.MSG, message.payload), 30),
    });
    const transport = await Transport.open(port);
    const first = transport.exchange(bytes(1));
    const controller = new AbortController();
    const second = codeOf(transport.exchange(bytes(2), { signal: controller.signal }));
    controller.abort();
    expect(await second).toBe("TRANSPORT_ABORTED");
    expect(await first).toEqual(bytes(1));
    expect(port.messagesOf(FrameCommand.MSG)).toHaveLength(1);
    await transport.close();
  });

  it("sends CANCEL for the running call and waits for the key's answer", async () => {
    const port = fakeKey({ answer: () => {} });
    const cancelOnMessage = port.onMessage;
    port.onMessage = (message) => {
      if (message.cmd === FrameCommand.CANCEL) port.sendMessage(message.cid, FrameCommand.MSG, bytes(0x09, 0x0a));
      else cancelOnMessage(message);
    };
    const transport = await Transport.open(port);
    const controller = new AbortController();
    const call = transport.exchange(bytes(1), { signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    expect(await codeOf(call)).toBe("TRANSPORT_ABORTED");
    expect(port.messagesOf(FrameCommand.CANCEL)).toHaveLength(1);
    // The CANCELLED answer was consumed: the next call gets its own answer.
    port.onMessage = cancelOnMessage;
    const echo = fakeKey();
    port.onMessage = (message) => {
      if (message.cmd === FrameCommand.MSG) port.sendMessage(message.cid, FrameCommand.MSG, message.payload);
      else echo.onMessage(message);
    };
    expect(await transport.exchange(bytes(7))).toEqual(bytes(7));
    await transport.close();
  });

  it("rejects at once when the signal is already aborted", async () => {
    const transport = await Transport.open(fakeKey());
    expect(await codeOf(transport.exchange(bytes(1), { signal: AbortSignal.abort() }))).toBe("TRANSPORT_ABORTED");
    await transport.close();
  });
});

describe("Transport keepalive and busy", () => {
  it("waits past the caller's timeout while the key says PROCESSING", async () => {
    const port = fakeKey({
      answer: (message, p) => {
        let beats = 0;
        const timer = setInterval(() => {
          beats++;
          if (beats < 6) {
            p.send(keepalive(KeepaliveStatus.PROCESSING));
            return;
          }
          clearInterval(timer);
          p.sendMessage(message.cid, FrameCommand.MSG, message.payload);
        }, 20);
      },
    });
    // Generous grace: a loaded machine may delay the 20 ms keepalive timer.
    const transport = await Transport.open(port, { keepaliveGraceMs: 250 });
    expect(await transport.exchange(bytes(5), { timeoutMs: 30 })).toEqual(bytes(5));
    await transport.close();
  });

  it("gives up at the processing cap even while keepalives keep coming", async () => {
    let timer: NodeJS.Timeout | undefined;
    const port = fakeKey({
      answer: (_message, p) => {
        timer = setInterval(() => p.send(keepalive(KeepaliveStatus.PROCESSING)), 10);
      },
    });
    const transport = await Transport.open(port, { processingCapMs: 80, keepaliveGraceMs: 50 });
    expect(await codeOf(transport.exchange(bytes(5), { timeoutMs: 20 }))).toBe("TRANSPORT_TIMEOUT");
    clearInterval(timer);
    await transport.close();
  });

  it("retries after CHANNEL_BUSY and succeeds when the key becomes free", async () => {
    let attempts = 0;
    const port = fakeKey({
      answer: (message, p) => {
        attempts++;
        if (attempts < 3) p.sendMessage(message.cid, FrameCommand.ERROR, Uint8Array.of(FramingError.CHANNEL_BUSY));
        else p.sendMessage(message.cid, FrameCommand.MSG, message.payload);
      },
    });
    const transport = await Transport.open(port, { busyBackoffMs: { initial: 1, max: 4 } });
    expect(await transport.exchange(bytes(3))).toEqual(bytes(3));
    expect(attempts).toBe(3);
    await transport.close();
  });

  it("waits for the answer after KEEPALIVE BUSY without sending the request twice", async () => {
    const port = fakeKey({
      answer: (message, p) => {
        p.send(keepalive(KeepaliveStatus.BUSY));
        setTimeout(() => p.sendMessage(message.cid, FrameCommand.MSG, message.payload), 20);
      },
    });
    const transport = await Transport.open(port);
    expect(await transport.exchange(bytes(3), { timeoutMs: 2_000 })).toEqual(bytes(3));
    expect(port.messagesOf(FrameCommand.MSG).length).toBe(1);
    await transport.close();
  });

  it("fails with KEY_BUSY when the key stays busy until the timeout", async () => {
    const port = fakeKey({ answer: (_message, p) => p.send(keepalive(KeepaliveStatus.BUSY)) });
    const transport = await Transport.open(port, { cancelGraceMs: 5 });
    expect(await codeOf(transport.exchange(bytes(3), { timeoutMs: 60 }))).toBe("KEY_BUSY");
    expect(port.messagesOf(FrameCommand.MSG).length).toBe(1);
    await transport.close();
  });

  it("fails with KEY_BUSY when every attempt meets CHANNEL_BUSY", async () => {
    const port = fakeKey({
      answer: (message, p) => p.sendMessage(message.cid, FrameCommand.ERROR, Uint8Array.of(FramingError.CHANNEL_BUSY)),
    });
    const transport = await Transport.open(port, { busyBackoffMs: { initial: 2, max: 8 } });
    expect(await codeOf(transport.exchange(bytes(3), { timeoutMs: 60 }))).toBe("KEY_BUSY");
    expect(port.messagesOf(FrameCommand.MSG).length).toBeGreaterThan(1);
    await transport.close();
  });
});

describe("Transport resync and bad input", () => {
  it("turns an ERROR frame into KEY_FRAMING_ERROR and recovers for the next call", async () => {
    let first = true;
    const port = fakeKey({
      answer: (message, p) => {
        if (first) {
          first = false;
          p.sendMessage(message.cid, FrameCommand.ERROR, bytes(FramingError.INVALID_SEQ));
          // Junk that a confused key might still send after the error.
          p.sendMessage(message.cid, FrameCommand.MSG, bytes(0xde, 0xad));
        } else {
          p.sendMessage(message.cid, FrameCommand.MSG, message.payload);
        }
      },
    });
    const transport = await Transport.open(port);
    expect(await codeOf(transport.exchange(bytes(1)))).toBe("KEY_FRAMING_ERROR");
    expect(await transport.exchange(bytes(2))).toEqual(bytes(2));
    await transport.close();
  });

  it("drops a late answer to a timed-out call instead of handing it to the next caller", async () => {
    let count = 0;
    const port = fakeKey({
      answer: (message, p) => {
        count++;
        const delay = count === 1 ? 40 : 0;
        setTimeout(() => p.sendMessage(message.cid, FrameCommand.MSG, message.payload), delay);
      },
    });
    const transport = await Transport.open(port, { drainQuietMs: 200 });
    expect(await codeOf(transport.exchange(bytes(1), { timeoutMs: 10 }))).toBe("TRANSPORT_TIMEOUT");
    expect(await transport.exchange(bytes(2))).toEqual(bytes(2));
    await transport.close();
  });

  it("ignores reports of other channels and stray continuations", async () => {
    const port = fakeKey({
      answer: (message, p) => {
        p.sendMessage(0x55555555, FrameCommand.MSG, bytes(0xbb));
        const stray = new Uint8Array(REPORT_SIZE);
        stray.set([0x01, 0x02, 0x03, 0x04, 0x05]);
        p.send(stray);
        p.sendMessage(message.cid, FrameCommand.MSG, message.payload);
      },
    });
    const transport = await Transport.open(port);
    expect(await transport.exchange(bytes(9))).toEqual(bytes(9));
    await transport.close();
  });

  const malformed: Array<[string, (cid: number) => Uint8Array[], string]> = [
    [
      "a continuation out of sequence",
      (cid) => {
        const reports = encodeFrames(cid, FrameCommand.MSG, new Uint8Array(200)).map((r) => Uint8Array.from(r));
        reports[1]![4] = 5;
        return reports;
      },
      "PROTOCOL_BAD_SEQUENCE",
    ],
    [
      "a length beyond the maximum message",
      (cid) => {
        const report = Uint8Array.from(encodeFrames(cid, FrameCommand.MSG, bytes(1))[0]!);
        report[5] = 0xff;
        report[6] = 0xff;
        return [report];
      },
      "PROTOCOL_LENGTH_TOO_LARGE",
    ],
    ["a short report", () => [new Uint8Array(10)], "PROTOCOL_BAD_REPORT_SIZE"],
    [
      "a new message before the last one ended",
      (cid) => [
        Uint8Array.from(encodeFrames(cid, FrameCommand.MSG, new Uint8Array(200))[0]!),
        Uint8Array.from(encodeFrames(cid, FrameCommand.MSG, new Uint8Array(200))[0]!),
      ],
      "PROTOCOL_UNEXPECTED_INIT",
    ],
  ];

  it.each(malformed)("rejects %s with a typed error and serves the next call", async (_name, reports, code) => {
    let first = true;
    const port = fakeKey({
      answer: (message, p) => {
        if (first) {
          first = false;
          p.send(...reports(message.cid));
        } else {
          p.sendMessage(message.cid, FrameCommand.MSG, message.payload);
        }
      },
    });
    const transport = await Transport.open(port);
    expect(await codeOf(transport.exchange(bytes(1)))).toBe(code);
    expect(await transport.exchange(bytes(2))).toEqual(bytes(2));
    await transport.close();
  });

  it("times out, without crashing, on a message truncated by the key", async () => {
    const port = fakeKey({
      answer: (message, p) =>
        p.send(Uint8Array.from(encodeFrames(message.cid, FrameCommand.MSG, new Uint8Array(300))[0]!)),
    });
    const transport = await Transport.open(port);
    expect(await codeOf(transport.exchange(bytes(1), { timeoutMs: 40 }))).toBe("TRANSPORT_TIMEOUT");
    await transport.close();
  });

  it("survives arbitrary reports from the key: only typed errors, never a hang", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 0, maxLength: 70 }), { maxLength: 6 }), async (junk) => {
        const port = fakeKey({
          answer: (message, p) => {
            const withOurCid = junk.map((report) => {
              const copy = Uint8Array.from(report);
              if (copy.length >= 4) copy.set([1, 2, 3, 4]);
              return copy;
            });
            p.send(...withOurCid);
            void message;
          },
        });
        const transport = await Transport.open(port);
        const code = await codeOf(transport.exchange(bytes(1), { timeoutMs: 20 }));
        expect(code === "resolved" || /^(PROTOCOL_|TRANSPORT_|KEY_)/.test(code)).toBe(true);
        await transport.close();
      }),
      { numRuns: 60 },
    );
  });

  it("allocates a new channel and resends once when the key no longer knows the channel", async () => {
    let inits = 0;
    const port = fakeKey({
      answer: (message, p) => {
        if (inits === 0) p.sendMessage(message.cid, FrameCommand.ERROR, bytes(FramingError.INVALID_CHANNEL));
        else p.sendMessage(message.cid, FrameCommand.MSG, message.payload);
      },
    });
    const base = port.onMessage;
    port.onMessage = (message) => {
      if (message.cmd === FrameCommand.INIT && port.messagesOf(FrameCommand.MSG).length > 0) inits++;
      base(message);
    };
    const transport = await Transport.open(port);
    expect(await transport.exchange(bytes(4))).toEqual(bytes(4));
    expect(inits).toBe(1);
    await transport.close();
  });
});

describe("Transport disconnect and close", () => {
  it("fails the running and every queued call with KEY_DISCONNECTED, and stays failed", async () => {
    const port = fakeKey({ answer: () => {} });
    const transport = await Transport.open(port);
    const running = codeOf(transport.exchange(bytes(1)));
    await new Promise((resolve) => setImmediate(resolve));
    const queued = codeOf(transport.exchange(bytes(2)));
    port.unplug();
    expect(await running).toBe("KEY_DISCONNECTED");
    expect(await queued).toBe("KEY_DISCONNECTED");
    expect(await codeOf(transport.exchange(bytes(3)))).toBe("KEY_DISCONNECTED");
    expect(transport.disconnected).toBe(true);

    await transport.reopen(fakeKey());
    expect(await transport.exchange(bytes(4))).toEqual(bytes(4));
    await transport.close();
  });

  it("close() rejects waiting calls, closes the port and leaves no timer behind", async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((name) => name === "Timeout").length;
    const port = fakeKey({ answer: () => {} });
    const transport = await Transport.open(port, { timeoutMs: 60_000 });
    const running = codeOf(transport.exchange(bytes(1)));
    await new Promise((resolve) => setImmediate(resolve));
    const queued = codeOf(transport.exchange(bytes(2)));
    await transport.close();
    expect(await running).toBe("TRANSPORT_CLOSED");
    expect(await queued).toBe("TRANSPORT_CLOSED");
    expect(port.closed).toBe(true);
    expect(await codeOf(transport.exchange(bytes(3)))).toBe("TRANSPORT_CLOSED");
    const timersAfter = process.getActiveResourcesInfo().filter((name) => name === "Timeout").length;
    expect(timersAfter).toBeLessThanOrEqual(timersBefore);
  });
});

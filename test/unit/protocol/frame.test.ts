import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BROADCAST_CID,
  CONT_DATA_SIZE,
  decodeFrames,
  encodeFrames,
  encodeMessage,
  FrameCommand,
  type FrameMessage,
  INIT_DATA_SIZE,
  MAX_MESSAGE_SIZE,
  MessageAssembler,
  ProtocolError,
  ProtocolErrorCode,
  parseReport,
  REPORT_SIZE,
  reportCount,
} from "../../../src/protocol/index.js";
import { counting, EXAMPLE_CID } from "./fixtures.js";
import { bytesOf, hex, hexOf, protocolErrorCode } from "./hex.js";

const CID = "1a2b3c4d";

describe("init and continuation packets, byte for byte", () => {
  const cases: ReadonlyArray<{ name: string; cid: number; cmd: number; payload: Uint8Array; reports: string[] }> = [
    {
      name: "MSG with 3 bytes: CID, 0x83, length 0x0003, data, zero padding",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: bytesOf("aabbcc"),
      reports: [hex([CID, "83", "0003", "aabbcc"], 64)],
    },
    {
      name: "empty MSG",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: new Uint8Array(0),
      reports: [hex([CID, "83", "0000"], 64)],
    },
    {
      name: "INIT on the broadcast channel with an 8-byte nonce",
      cid: BROADCAST_CID,
      cmd: FrameCommand.INIT,
      payload: bytesOf("0102030405060708"),
      reports: [hex(["ffffffff", "86", "0008", "0102030405060708"], 64)],
    },
    {
      name: "CANCEL has no data",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.CANCEL,
      payload: new Uint8Array(0),
      reports: [hex([CID, "91", "0000"], 64)],
    },
    {
      name: "KEEPALIVE PROCESSING",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.KEEPALIVE,
      payload: bytesOf("01"),
      reports: [hex([CID, "bb", "0001", "01"], 64)],
    },
    {
      name: "ERROR INVALID_CHANNEL",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.ERROR,
      payload: bytesOf("0b"),
      reports: [hex([CID, "bf", "0001", "0b"], 64)],
    },
    {
      name: "57 bytes fill the init packet exactly",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: counting(57, 0),
      reports: [hex([CID, "83", "0039", hexOf(counting(57, 0))])],
    },
    {
      name: "58 bytes: one continuation packet with sequence 0 and the last byte",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: counting(58, 0),
      reports: [hex([CID, "83", "003a", hexOf(counting(57, 0))]), hex([CID, "00", "39"], 64)],
    },
    {
      name: "117 bytes: sequences 0 and 1, the second carrying one byte",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: counting(117, 0),
      reports: [
        hex([CID, "83", "0075", hexOf(counting(57, 0))]),
        hex([CID, "00", hexOf(counting(59, 57))]),
        hex([CID, "01", "74"], 64),
      ],
    },
  ];

  for (const { name, cid, cmd, payload, reports } of cases) {
    it(name, () => {
      expect(encodeFrames(cid, cmd, payload).map(hexOf)).toEqual(reports);
      expect(hexOf(encodeMessage(cid, cmd, payload))).toBe(reports.join(""));
      const decoded = decodeFrames(reports.map((report) => bytesOf(report)));
      expect(decoded.cid).toBe(cid);
      expect(decoded.cmd).toBe(cmd);
      expect(hexOf(decoded.payload)).toBe(hexOf(payload));
    });
  }

  it("the largest message uses 129 reports, the last with sequence 0x7f", () => {
    const reports = encodeFrames(EXAMPLE_CID, FrameCommand.MSG, new Uint8Array(MAX_MESSAGE_SIZE).fill(0xee));
    expect(reports).toHaveLength(129);
    expect(hexOf(reports[0]!.subarray(0, 7))).toBe(`${CID}831db9`);
    expect(reports.slice(1).map((report) => report[4])).toEqual(Array.from({ length: 128 }, (_, i) => i));
    expect(reports[128]!.subarray(5).every((byte) => byte === 0xee)).toBe(true);
  });

  it("parseReport reads the header of init and continuation packets", () => {
    const init = parseReport(bytesOf([CID, "83", "0102", "ff"], 64));
    expect(init).toMatchObject({ kind: "init", cid: EXAMPLE_CID, cmd: FrameCommand.MSG, length: 0x0102 });
    expect(init.data[0]).toBe(0xff);
    expect(init.data).toHaveLength(INIT_DATA_SIZE);
    const cont = parseReport(bytesOf([CID, "7f", "ee"], 64));
    expect(cont).toMatchObject({ kind: "cont", cid: EXAMPLE_CID, seq: 0x7f });
    expect(cont.data[0]).toBe(0xee);
    expect(cont.data).toHaveLength(CONT_DATA_SIZE);
  });

  it("reportCount matches the number of reports for the boundary sizes", () => {
    const table: Array<[number, number]> = [
      [0, 1],
      [57, 1],
      [58, 2],
      [116, 2],
      [117, 3],
      [MAX_MESSAGE_SIZE - 1, 129],
      [MAX_MESSAGE_SIZE, 129],
    ];
    for (const [size, count] of table) expect(reportCount(size), `size ${size}`).toBe(count);
  });
});

/** Feeds every report; returns the message that completed on the last one. */
function assemble(assembler: MessageAssembler, reports: readonly Uint8Array[]): FrameMessage | undefined {
  let message: FrameMessage | undefined;
  for (let i = 0; i < reports.length; i++) {
    message = assembler.push(reports[i]!);
    if (i < reports.length - 1) expect(message).toBeUndefined();
  }
  return message;
}

describe("round trips", () => {
  it("every message size from 0 to MAX_MESSAGE_SIZE survives encode and reassembly", () => {
    const source = Uint8Array.from({ length: MAX_MESSAGE_SIZE }, (_, i) => (i * 31 + 7) & 0xff);
    const viaPush = new MessageAssembler(EXAMPLE_CID);
    const viaPushAt = new MessageAssembler();
    for (let size = 0; size <= MAX_MESSAGE_SIZE; size++) {
      const payload = source.subarray(0, size);
      const all = encodeMessage(EXAMPLE_CID, FrameCommand.MSG, payload);
      const count = reportCount(size);
      if (all.length !== count * REPORT_SIZE) expect.fail(`size ${size}: ${all.length} bytes of reports`);
      let fromPushAt: FrameMessage | undefined;
      for (let offset = 0; offset < all.length; offset += REPORT_SIZE) fromPushAt = viaPushAt.pushAt(all, offset);
      const frames = encodeFrames(EXAMPLE_CID, FrameCommand.MSG, payload);
      let fromPush: FrameMessage | undefined;
      for (const report of frames) fromPush = viaPush.push(report);
      for (const message of [fromPushAt, fromPush]) {
        if (message === undefined || message.cid !== EXAMPLE_CID || message.cmd !== FrameCommand.MSG) {
          expect.fail(`size ${size}: no message or wrong header`);
        }
        if (Buffer.compare(message.payload, payload) !== 0) expect.fail(`size ${size}: payload differs`);
      }
    }
  });

  it("random contents, channels and commands round-trip", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0x7f }),
        fc.uint8Array({ maxLength: MAX_MESSAGE_SIZE }),
        (cid, cmd, payload) => {
          const reports = encodeFrames(cid, cmd, payload);
          expect(reports).toHaveLength(reportCount(payload.length));
          const message = assemble(new MessageAssembler(cid), reports);
          expect(message).toEqual({ cid, cmd, payload });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("padding after the declared length is ignored", () => {
    const report = bytesOf([CID, "83", "0002", "aabb"], 64).fill(0x55, 9);
    expect(hexOf(decodeFrames([report]).payload)).toBe("aabb");
  });

  it("a returned payload is a copy: changing the report afterwards does not change the message", () => {
    for (const size of [3, 100]) {
      const reports = encodeFrames(EXAMPLE_CID, FrameCommand.MSG, counting(size, 1)).map((report) =>
        Buffer.from(report),
      );
      const message = decodeFrames(reports);
      for (const report of reports) report.fill(0);
      expect(hexOf(message.payload), `size ${size}`).toBe(hexOf(counting(size, 1)));
    }
  });
});

describe("malformed reports are typed errors", () => {
  const init = (length: string, data = "") => bytesOf([CID, "83", length, data], 64);
  const cont = (seq: string, cid = CID) => bytesOf([cid, seq], 64);

  it("a report that is not 64 bytes is BAD_REPORT_SIZE", () => {
    for (const size of [0, 63, 65]) {
      expect(protocolErrorCode(() => new MessageAssembler().push(new Uint8Array(size)))).toBe(
        ProtocolErrorCode.BAD_REPORT_SIZE,
      );
      expect(protocolErrorCode(() => parseReport(new Uint8Array(size)))).toBe(ProtocolErrorCode.BAD_REPORT_SIZE);
    }
    expect(protocolErrorCode(() => new MessageAssembler().pushAt(new Uint8Array(100), 64))).toBe(
      ProtocolErrorCode.BAD_REPORT_SIZE,
    );
    expect(protocolErrorCode(() => new MessageAssembler().pushAt(new Uint8Array(64), -1))).toBe(
      ProtocolErrorCode.BAD_REPORT_SIZE,
    );
  });

  it("a report on another channel is WRONG_CHANNEL when the assembler listens to one channel", () => {
    const assembler = new MessageAssembler(EXAMPLE_CID);
    expect(protocolErrorCode(() => assembler.push(bytesOf(["00000001", "83", "0000"], 64)))).toBe(
      ProtocolErrorCode.WRONG_CHANNEL,
    );
    expect(assembler.push(init("0001", "aa"))?.payload).toEqual(bytesOf("aa"));
  });

  it("a continuation on another channel mid-message is WRONG_CHANNEL and drops the message", () => {
    const assembler = new MessageAssembler();
    expect(assembler.push(init("0040"))).toBeUndefined();
    expect(protocolErrorCode(() => assembler.push(cont("00", "00000002")))).toBe(ProtocolErrorCode.WRONG_CHANNEL);
    expect(assembler.inProgress).toBe(false);
  });

  it("a continuation out of order is BAD_SEQUENCE and drops the message", () => {
    const assembler = new MessageAssembler();
    assembler.push(init("0080"));
    expect(protocolErrorCode(() => assembler.push(cont("01")))).toBe(ProtocolErrorCode.BAD_SEQUENCE);
    expect(assembler.inProgress).toBe(false);
    expect(protocolErrorCode(() => assembler.push(cont("00")))).toBe(ProtocolErrorCode.BAD_SEQUENCE);
  });

  it("a repeated continuation is BAD_SEQUENCE", () => {
    const assembler = new MessageAssembler();
    assembler.push(init("0080"));
    assembler.push(cont("00"));
    expect(protocolErrorCode(() => assembler.push(cont("00")))).toBe(ProtocolErrorCode.BAD_SEQUENCE);
  });

  it("a continuation with no init packet before it is BAD_SEQUENCE", () => {
    expect(protocolErrorCode(() => new MessageAssembler().push(cont("00")))).toBe(ProtocolErrorCode.BAD_SEQUENCE);
  });

  it("an init packet during reassembly is UNEXPECTED_INIT; both messages are dropped and the next one works", () => {
    const assembler = new MessageAssembler();
    assembler.push(init("0040"));
    expect(protocolErrorCode(() => assembler.push(init("0001", "bb")))).toBe(ProtocolErrorCode.UNEXPECTED_INIT);
    expect(assembler.inProgress).toBe(false);
    expect(assembler.push(init("0001", "cc"))?.payload).toEqual(bytesOf("cc"));
  });

  it("a declared length over MAX_MESSAGE_SIZE is LENGTH_TOO_LARGE, at 7610 and at 0xffff", () => {
    for (const length of ["1dba", "ffff"]) {
      const assembler = new MessageAssembler();
      expect(protocolErrorCode(() => assembler.push(init(length)))).toBe(ProtocolErrorCode.LENGTH_TOO_LARGE);
      expect(assembler.inProgress).toBe(false);
    }
    expect(new MessageAssembler().push(init("1db9"))).toBeUndefined();
  });

  it("a message longer than MAX_MESSAGE_SIZE cannot be encoded", () => {
    const tooLarge = new Uint8Array(MAX_MESSAGE_SIZE + 1);
    expect(protocolErrorCode(() => encodeFrames(EXAMPLE_CID, FrameCommand.MSG, tooLarge))).toBe(
      ProtocolErrorCode.MESSAGE_TOO_LARGE,
    );
  });

  it("reports that end before the message is complete are TRUNCATED", () => {
    const reports = encodeFrames(EXAMPLE_CID, FrameCommand.MSG, new Uint8Array(200));
    expect(protocolErrorCode(() => decodeFrames(reports.slice(0, -1)))).toBe(ProtocolErrorCode.TRUNCATED);
    expect(protocolErrorCode(() => decodeFrames([]))).toBe(ProtocolErrorCode.TRUNCATED);
  });

  it("reports after the end of the message are TRUNCATED (trailing)", () => {
    const reports = encodeFrames(EXAMPLE_CID, FrameCommand.MSG, new Uint8Array(3));
    expect(protocolErrorCode(() => decodeFrames([...reports, cont("00")]))).toBe(ProtocolErrorCode.TRUNCATED);
  });
});

describe("arbitrary input never escapes as anything but ProtocolError", () => {
  /** Reports biased towards plausible headers: our channel, small lengths, low sequence numbers. */
  const report = fc.oneof(
    fc.uint8Array({ minLength: REPORT_SIZE, maxLength: REPORT_SIZE }),
    fc
      .tuple(
        fc.constantFrom(EXAMPLE_CID, EXAMPLE_CID + 1),
        fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0x80, max: 0xff })),
        fc.integer({ min: 0, max: 200 }),
        fc.uint8Array({ minLength: 57, maxLength: 57 }),
      )
      .map(([cid, fifth, length, data]) => {
        const bytes = new Uint8Array(REPORT_SIZE);
        new DataView(bytes.buffer).setUint32(0, cid);
        bytes[4] = fifth;
        bytes[5] = length >> 8;
        bytes[6] = length & 0xff;
        bytes.set(data, 7);
        return bytes;
      }),
  );

  it("random report sequences yield messages or ProtocolErrors, and a retried message always gets through", () => {
    fc.assert(
      fc.property(
        fc.array(report, { maxLength: 40 }),
        fc.option(fc.constant(EXAMPLE_CID), { nil: undefined }),
        fc.uint8Array({ maxLength: 300 }),
        (garbage, channel, payload) => {
          const assembler = new MessageAssembler(channel);
          for (const bytes of garbage) {
            try {
              const message = assembler.push(bytes);
              if (message !== undefined) expect(message.payload.length).toBeLessThanOrEqual(MAX_MESSAGE_SIZE);
            } catch (error) {
              if (!(error instanceof ProtocolError)) throw error;
            }
          }
          // A sender that starts over once after an error is always understood.
          const reports = encodeFrames(EXAMPLE_CID, FrameCommand.MSG, payload);
          for (let attempt = 1; ; attempt++) {
            try {
              expect(assemble(assembler, reports)?.payload).toEqual(payload);
              return;
            } catch (error) {
              if (!(error instanceof ProtocolError) || attempt === 2) throw error;
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("byte strings of any length into parseReport and push", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 130 }), (bytes) => {
        for (const action of [() => parseReport(bytes), () => new MessageAssembler().push(bytes)]) {
          try {
            action();
          } catch (error) {
            if (!(error instanceof ProtocolError)) throw error;
          }
        }
      }),
    );
  });
});

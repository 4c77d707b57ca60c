import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AppCommand,
  Borrow,
  ByteReader,
  COMMAND_CODECS,
  type CommandCodec,
  decodeErrorBody,
  decodeInitRequest,
  decodeInitResponse,
  decodeRequestEnvelope,
  decodeResponseEnvelope,
  encodeErrorBody,
  encodeInitRequest,
  encodeInitResponse,
  encodeRequestEnvelope,
  encodeResponseEnvelope,
  GetInfo,
  GetTime,
  LicenseUpdate,
  ListBorrows,
  ListLicenses,
  OpStatusQuery,
  Ping,
  ProtocolError,
  ProtocolErrorCode,
  Provision,
  Rebind,
  Settle,
  SignedLicenseUpdateCommand,
  VendorInfoQuery,
} from "../../../src/protocol/index.js";
import * as arb from "./arbitraries.js";
import { counting, DAY_MS, EXAMPLE_TIME, filled } from "./fixtures.js";
import { bytesOf, hex, hexOf, protocolErrorCode } from "./hex.js";

const OP_ID = counting(16, 0x10);
const BINDING = counting(32, 0x20);
const NEW_BINDING = filled(32, 0xbb);
const TAG = counting(16, 0x40);
const PUBLIC_KEY = counting(32, 0x80);
const SIGNATURE = counting(64, 0x01);
const TIME = "0000019b76daa800"; // EXAMPLE_TIME
const TIME_PLUS_30D = "0000019c11597000";

const record = {
  id: 42,
  product: 7,
  client: "ws-042",
  issuedAt: EXAMPLE_TIME,
  expiresAt: EXAMPLE_TIME + 30 * DAY_MS,
  binding: BINDING,
  opId: OP_ID,
  state: "active" as const,
};
const RECORD_HEX = hex([
  "000000000000002a", // id
  "00000007", // product
  TIME, // issuedAt
  TIME_PLUS_30D, // expiresAt
  hexOf(BINDING),
  hexOf(OP_ID),
  "00", // state: active
  "0000000000000000", // dummyUntil: 0 when active
  "06", // client length
  "77732d303432", // "ws-042"
]);
const dummy = { ...record, id: 43, state: "dummy" as const, dummyUntil: EXAMPLE_TIME + 30 * DAY_MS };
const DUMMY_HEX = hex([
  "000000000000002b",
  "00000007",
  TIME,
  TIME_PLUS_30D,
  hexOf(BINDING),
  hexOf(OP_ID),
  "01", // state: dummy
  TIME_PLUS_30D, // dummyUntil
  "06",
  "77732d303432",
]);

interface CodecCase {
  // biome-ignore lint/suspicious/noExplicitAny: a table of codecs of different request and response types
  readonly codec: CommandCodec<any, any>;
  readonly request: unknown;
  readonly requestHex: string;
  readonly response: unknown;
  readonly responseHex: string;
}

/** One fixed request and response per command, with their bytes written out from the layout tables of PROTOCOL.md. */
const CASES: readonly CodecCase[] = [
  {
    codec: GetInfo,
    request: {},
    requestHex: "",
    response: {
      serial: "KB-0001",
      firmwareVersion: "1.2.3",
      protocolVersion: 1,
      capabilities: 0x1f,
      licenseSetVersion: 7,
      publicKey: PUBLIC_KEY,
      keyTimeMs: EXAMPLE_TIME,
      settleWindowMs: DAY_MS,
    },
    responseHex: hex([
      "07",
      "4b422d30303031", // serial "KB-0001"
      "010203", // firmware 1.2.3
      "01", // protocol version
      "0000001f", // capabilities
      "00000007", // license-set version
      hexOf(PUBLIC_KEY),
      TIME, // key time
      "05265c00", // settle window: 86 400 000 ms
    ]),
  },
  {
    codec: ListLicenses,
    request: {},
    requestHex: "",
    response: [
      { product: 7, seats: 10, borrowable: 4, borrowDays: 30, borrowed: 1, dummies: 2 },
      { product: 0xfffffffe, seats: 1, borrowable: 0, borrowDays: 365, borrowed: 0, dummies: 0 },
    ],
    responseHex: hex([
      "0002",
      ["00000007", "000a", "0004", "001e", "0001", "0002"].join(""),
      ["fffffffe", "0001", "0000", "016d", "0000", "0000"].join(""),
    ]),
  },
  {
    codec: Borrow,
    request: { opId: OP_ID, product: 7, days: 30, binding: BINDING, tag: TAG, client: "ws-042" },
    requestHex: hex([hexOf(OP_ID), "00000007", "001e", hexOf(BINDING), hexOf(TAG), "06", "77732d303432"]),
    response: record,
    responseHex: RECORD_HEX,
  },
  {
    codec: Settle,
    request: { opId: OP_ID, id: 42, binding: BINDING, tag: TAG },
    requestHex: hex([hexOf(OP_ID), "000000000000002a", hexOf(BINDING), hexOf(TAG)]),
    response: { id: 42, outcome: "dummy", dummyUntil: EXAMPLE_TIME + 30 * DAY_MS },
    responseHex: hex(["000000000000002a", "01", TIME_PLUS_30D]),
  },
  {
    codec: Rebind,
    request: { opId: OP_ID, id: 42, oldBinding: BINDING, tag: TAG, newBinding: NEW_BINDING },
    requestHex: hex([hexOf(OP_ID), "000000000000002a", hexOf(BINDING), hexOf(TAG), hexOf(NEW_BINDING)]),
    response: record,
    responseHex: RECORD_HEX,
  },
  {
    codec: ListBorrows,
    request: { afterId: 41, maxCount: 32 },
    requestHex: "000000000000002920",
    response: { records: [record, dummy], more: true },
    responseHex: hex(["02", "01", RECORD_HEX, DUMMY_HEX]),
  },
  {
    codec: LicenseUpdate,
    request: {
      opId: OP_ID,
      licenses: [
        { product: 7, seats: 10, borrowable: 4, borrowDays: 30 },
        { product: 8, seats: 2, borrowable: 2, borrowDays: 1 },
      ],
    },
    requestHex: hex([hexOf(OP_ID), "0002", "00000007000a0004001e", "0000000800020002" + "0001"]),
    response: { licenseSetVersion: 8, dummiesCreated: 3 },
    responseHex: "000000080003",
  },
  {
    codec: GetTime,
    request: {},
    requestHex: "",
    response: { keyTimeMs: EXAMPLE_TIME, settleWindowMs: DAY_MS },
    responseHex: hex([TIME, "05265c00"]),
  },
  {
    codec: Ping,
    request: bytesOf("deadbeef"),
    requestHex: "deadbeef",
    response: bytesOf("deadbeef"),
    responseHex: "deadbeef",
  },
  {
    codec: OpStatusQuery,
    request: { opId: OP_ID },
    requestHex: hexOf(OP_ID),
    response: { known: true, kind: "settle", status: 0, borrowId: 42, settleOutcome: "dummy" },
    responseHex: hex(["01", "02", "00", "000000000000002a", "01"]),
  },
  {
    codec: SignedLicenseUpdateCommand,
    request: {
      opId: OP_ID,
      update: {
        serial: "KB-7",
        counter: 258,
        licenses: [{ product: 7, seats: 10, borrowable: 4, borrowDays: 30 }],
        signature: SIGNATURE,
      },
    },
    requestHex: hex([hexOf(OP_ID), "04", "4b422d37", "00000102", "0001", "00000007000a0004001e", hexOf(SIGNATURE)]),
    response: { licenseSetVersion: 8, dummiesCreated: 3, updateCounter: 258 },
    responseHex: hex(["00000008", "0003", "00000102"]),
  },
  {
    codec: Provision,
    request: { serial: "KB-7", vendorPublicKey: PUBLIC_KEY },
    requestHex: hex(["04", "4b422d37", hexOf(PUBLIC_KEY)]),
    response: { provisioned: true, vendorPublicKey: PUBLIC_KEY, updateCounter: 0 },
    responseHex: hex(["01", hexOf(PUBLIC_KEY), "00000000"]),
  },
  {
    codec: VendorInfoQuery,
    request: {},
    requestHex: "",
    response: { provisioned: false, updateCounter: 0 },
    responseHex: hex(["00", "00".repeat(32), "00000000"]),
  },
];

describe("command bodies, byte for byte", () => {
  it("the table covers every command", () => {
    expect(CASES.map((entry) => entry.codec.name).sort()).toEqual(Object.keys(AppCommand).sort());
  });

  for (const { codec, request, requestHex, response, responseHex } of CASES) {
    it(`${codec.name} (0x${codec.command.toString(16).padStart(2, "0")}) request and response`, () => {
      expect(hexOf(codec.encodeRequest(request))).toBe(requestHex);
      expect(codec.decodeRequest(bytesOf(requestHex))).toEqual(request);
      expect(hexOf(codec.encodeResponse(response))).toBe(responseHex);
      expect(codec.decodeResponse(bytesOf(responseHex))).toEqual(response);
    });

    it(`${codec.name}: one byte more or one byte less is TRUNCATED`, () => {
      const decoders: Array<[string, (body: Uint8Array) => unknown]> = [
        [requestHex, (body) => codec.decodeRequest(body)],
        [responseHex, (body) => codec.decodeResponse(body)],
      ];
      for (const [bodyHex, decode] of decoders) {
        if (codec.name === "PING") continue; // PING data is free-form
        expect(protocolErrorCode(() => decode(bytesOf(bodyHex + "00")))).toBe(ProtocolErrorCode.TRUNCATED);
        if (bodyHex.length > 0) {
          expect(protocolErrorCode(() => decode(bytesOf(bodyHex.slice(0, -2))))).toBe(ProtocolErrorCode.TRUNCATED);
        }
      }
    });
  }

  it("OP_STATUS of an unknown opId is 12 zero bytes; kinds are borrow 1, settle 2, rebind 3, license-update 4", () => {
    expect(hexOf(OpStatusQuery.encodeResponse({ known: false }))).toBe("00".repeat(12));
    expect(OpStatusQuery.decodeResponse(new Uint8Array(12))).toEqual({ known: false });
    const kinds = ["borrow", "settle", "rebind", "license-update"] as const;
    kinds.forEach((kind, index) => {
      const bytes = OpStatusQuery.encodeResponse({ known: true, kind, status: 3, borrowId: 5 });
      expect(hexOf(bytes)).toBe(hex(["01", (index + 1).toString(16).padStart(2, "0"), "03", "0000000000000005", "00"]));
    });
  });

  it("SETTLE settled: outcome 0 and dummyUntil 0", () => {
    expect(hexOf(Settle.encodeResponse({ id: 1, outcome: "settled" }))).toBe(hex(["0000000000000001", "00", "00"], 17));
  });
});

describe("envelopes, INIT and error bodies, byte for byte", () => {
  const nonce = counting(16, 0);
  const signature = filled(64, 0x5a);

  it("request envelope: nonce(16) command(1) body", () => {
    const bytes = encodeRequestEnvelope({ nonce, command: AppCommand.PING, body: bytesOf("0102") });
    expect(hexOf(bytes)).toBe(hex([hexOf(nonce), "09", "0102"]));
    expect(decodeRequestEnvelope(bytes)).toEqual({ nonce, command: AppCommand.PING, body: bytesOf("0102") });
  });

  it("a request envelope shorter than nonce and command is TRUNCATED", () => {
    expect(protocolErrorCode(() => decodeRequestEnvelope(new Uint8Array(16)))).toBe(ProtocolErrorCode.TRUNCATED);
  });

  it("response envelope: command(1) status(1) body signature(64)", () => {
    const envelope = { command: AppCommand.BORROW, status: 0x03, body: bytesOf("aabb"), signature };
    const bytes = encodeResponseEnvelope(envelope);
    expect(hexOf(bytes)).toBe(hex(["03", "03", "aabb", hexOf(signature)]));
    expect(decodeResponseEnvelope(bytes)).toEqual(envelope);
  });

  it("a response envelope shorter than 66 bytes is TRUNCATED; exactly 66 has an empty body", () => {
    expect(protocolErrorCode(() => decodeResponseEnvelope(new Uint8Array(65)))).toBe(ProtocolErrorCode.TRUNCATED);
    expect(decodeResponseEnvelope(new Uint8Array(66)).body).toHaveLength(0);
  });

  it("INIT request is the 8-byte nonce; anything else is a typed error", () => {
    expect(hexOf(encodeInitRequest(counting(8, 1)))).toBe("0102030405060708");
    expect(decodeInitRequest(counting(8, 1))).toEqual(counting(8, 1));
    expect(protocolErrorCode(() => decodeInitRequest(new Uint8Array(7)))).toBe(ProtocolErrorCode.TRUNCATED);
    expect(protocolErrorCode(() => decodeInitRequest(new Uint8Array(9)))).toBe(ProtocolErrorCode.TRUNCATED);
  });

  it("INIT response: nonce(8) cid(4) protocol version(1) firmware(3) capabilities(4)", () => {
    const response = {
      nonce: counting(8, 1),
      cid: 0x1a2b3c4d,
      protocolVersion: 1,
      firmwareVersion: "1.0.0",
      capabilities: 0x1f,
    };
    const bytes = encodeInitResponse(response);
    expect(hexOf(bytes)).toBe(hex(["0102030405060708", "1a2b3c4d", "01", "010000", "0000001f"]));
    expect(decodeInitResponse(bytes)).toEqual(response);
    expect(protocolErrorCode(() => decodeInitResponse(bytes.subarray(0, 19)))).toBe(ProtocolErrorCode.TRUNCATED);
  });

  it("error body: length(1) and UTF-8 reason, at most 200 bytes", () => {
    expect(hexOf(encodeErrorBody("no"))).toBe("026e6f");
    expect(decodeErrorBody(bytesOf("026e6f"))).toBe("no");
    expect(decodeErrorBody(new Uint8Array(0))).toBe("");
    expect(encodeErrorBody("x".repeat(300))).toHaveLength(201);
    expect(protocolErrorCode(() => decodeErrorBody(bytesOf("05aa")))).toBe(ProtocolErrorCode.TRUNCATED);
  });
});

describe("field ranges", () => {
  const settleRequest = (idHex: string) => bytesOf([hexOf(OP_ID), idHex, hexOf(BINDING), hexOf(TAG)]);

  it("u64 values up to 2^53 - 1 decode; 2^53 and above are BAD_FIELD", () => {
    expect(Settle.decodeRequest(settleRequest("001fffffffffffff")).id).toBe(Number.MAX_SAFE_INTEGER);
    for (const idHex of ["0020000000000000", "ffffffffffffffff"]) {
      expect(protocolErrorCode(() => Settle.decodeRequest(settleRequest(idHex)))).toBe(ProtocolErrorCode.BAD_FIELD);
    }
    expect(() => Settle.encodeRequest({ opId: OP_ID, id: 2 ** 53, binding: BINDING, tag: TAG })).toThrow(RangeError);
  });

  it("a client of 64 bytes decodes; 65 is BAD_FIELD, and the encoder refuses it", () => {
    const borrow = (client: string) =>
      hex([hexOf(OP_ID), "00000007", "001e", hexOf(BINDING), hexOf(TAG), client.length.toString(16).padStart(2, "0")]) +
      Buffer.from(client).toString("hex");
    expect(Borrow.decodeRequest(bytesOf(borrow("c".repeat(64)))).client).toBe("c".repeat(64));
    expect(protocolErrorCode(() => Borrow.decodeRequest(bytesOf(borrow("c".repeat(65)))))).toBe(
      ProtocolErrorCode.BAD_FIELD,
    );
    const request = { opId: OP_ID, product: 7, days: 30, binding: BINDING, tag: TAG, client: "é".repeat(33) };
    expect(() => Borrow.encodeRequest(request)).toThrow(RangeError);
  });

  it("fixed-size fields of the wrong size are refused by the encoder", () => {
    const request = { opId: OP_ID, product: 7, days: 30, binding: BINDING.subarray(1), tag: TAG, client: "a" };
    expect(() => Borrow.encodeRequest(request)).toThrow(RangeError);
  });

  it("unknown enum values are BAD_FIELD: record state, settle outcome, OP_STATUS known/kind/outcome, more", () => {
    const badState = bytesOf(RECORD_HEX.slice(0, 2 * 76) + "02" + RECORD_HEX.slice(2 * 77));
    expect(protocolErrorCode(() => Borrow.decodeResponse(badState))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(protocolErrorCode(() => Settle.decodeResponse(bytesOf(["000000000000002a", "02"], 17)))).toBe(
      ProtocolErrorCode.BAD_FIELD,
    );
    for (const body of [
      "02 01 00 0000000000000000 00",
      "01 05 00 0000000000000000 00",
      "01 02 00 0000000000000000 02",
    ]) {
      expect(
        protocolErrorCode(() => OpStatusQuery.decodeResponse(bytesOf(body))),
        body,
      ).toBe(ProtocolErrorCode.BAD_FIELD);
    }
    expect(protocolErrorCode(() => ListBorrows.decodeResponse(bytesOf("0002")))).toBe(ProtocolErrorCode.BAD_FIELD);
  });

  it("counts beyond their limits are BAD_FIELD before any record is read", () => {
    expect(protocolErrorCode(() => ListBorrows.decodeResponse(bytesOf("2100")))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(protocolErrorCode(() => ListLicenses.decodeResponse(bytesOf("0101")))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(protocolErrorCode(() => LicenseUpdate.decodeRequest(bytesOf([hexOf(OP_ID), "0101"])))).toBe(
      ProtocolErrorCode.BAD_FIELD,
    );
  });

  it("LIST_BORROWS maxCount must be 1..32", () => {
    for (const count of ["00", "21", "ff"]) {
      expect(protocolErrorCode(() => ListBorrows.decodeRequest(bytesOf(["0000000000000000", count])))).toBe(
        ProtocolErrorCode.BAD_FIELD,
      );
    }
    expect(ListBorrows.decodeRequest(bytesOf("000000000000000001"))).toEqual({ afterId: 0, maxCount: 1 });
  });

  it("a license needs borrowable <= seats and borrowDays 1..365; LICENSE_UPDATE products must be distinct", () => {
    const update = (...licenses: string[]) =>
      bytesOf([hexOf(OP_ID), licenses.length.toString(16).padStart(4, "0"), ...licenses]);
    expect(LicenseUpdate.decodeRequest(update("00000001 0002 0002 016d")).licenses).toHaveLength(1);
    for (const license of ["00000001 0002 0003 001e", "00000001 0002 0001 0000", "00000001 0002 0001 016e"]) {
      expect(
        protocolErrorCode(() => LicenseUpdate.decodeRequest(update(license))),
        license,
      ).toBe(ProtocolErrorCode.BAD_FIELD);
    }
    const twice = update("00000001 0002 0001 001e", "00000001 0003 0001 001e");
    expect(protocolErrorCode(() => LicenseUpdate.decodeRequest(twice))).toBe(ProtocolErrorCode.BAD_FIELD);
  });

  it("PING data is at most 1024 bytes", () => {
    expect(Ping.decodeRequest(new Uint8Array(1024))).toHaveLength(1024);
    expect(protocolErrorCode(() => Ping.decodeRequest(new Uint8Array(1025)))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(() => Ping.encodeRequest(new Uint8Array(1025))).toThrow(RangeError);
  });

  it("GET_INFO serial is at most 32 bytes", () => {
    const info = hexOf(GetInfo.encodeResponse(CASES[0]!.response as Parameters<typeof GetInfo.encodeResponse>[0]));
    const longSerial = "21" + "41".repeat(33) + info.slice(2 + 14);
    expect(protocolErrorCode(() => GetInfo.decodeResponse(bytesOf(longSerial)))).toBe(ProtocolErrorCode.BAD_FIELD);
  });
});

describe("round-trip properties", () => {
  const properties: Array<[string, fc.Arbitrary<unknown>, fc.Arbitrary<unknown>]> = [
    ["GET_INFO", fc.constant({}), arb.keyInfo],
    ["LIST_LICENSES", fc.constant({}), fc.array(arb.licenseUsage, { maxLength: 256 })],
    ["BORROW", arb.borrowRequest, arb.borrowRecord],
    ["SETTLE", arb.settleRequest, arb.settleResult],
    ["REBIND", arb.rebindRequest, arb.borrowRecord],
    ["LIST_BORROWS", arb.listBorrowsRequest, arb.borrowPage],
    ["LICENSE_UPDATE", arb.licenseUpdateRequest, arb.licenseUpdateResult],
    ["GET_TIME", fc.constant({}), arb.keyTime],
    ["PING", arb.pingData, arb.pingData],
    ["OP_STATUS", fc.record({ opId: arb.fixedBytes(16) }), arb.opStatus],
    ["SIGNED_LICENSE_UPDATE", arb.signedLicenseUpdateRequest, arb.signedLicenseUpdateResult],
    ["PROVISION", arb.provisionRequest, arb.vendorInfo],
    ["VENDOR_INFO", fc.constant({}), arb.vendorInfo],
  ];

  it("covers every command", () => {
    expect(properties.map(([name]) => name).sort()).toEqual(Object.keys(AppCommand).sort());
  });

  for (const [name, request, response] of properties) {
    it(`${name}: random valid requests and responses decode to what was encoded`, () => {
      const codec = COMMAND_CODECS[name as keyof typeof COMMAND_CODECS] as CommandCodec<unknown, unknown>;
      fc.assert(
        fc.property(request, response, (req, res) => {
          expect(codec.decodeRequest(codec.encodeRequest(req))).toEqual(req);
          expect(codec.decodeResponse(codec.encodeResponse(res))).toEqual(res);
        }),
        { numRuns: 150 },
      );
    });
  }

  it("envelopes and INIT payloads round-trip", () => {
    fc.assert(
      fc.property(
        arb.fixedBytes(16),
        arb.u8,
        arb.u8,
        arb.anyBody,
        arb.fixedBytes(64),
        (nonce, command, status, body, sig) => {
          expect(decodeRequestEnvelope(encodeRequestEnvelope({ nonce, command, body }))).toEqual({
            nonce,
            command,
            body,
          });
          const response = { command, status, body, signature: sig };
          expect(decodeResponseEnvelope(encodeResponseEnvelope(response))).toEqual(response);
        },
      ),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(arb.fixedBytes(8), arb.u32, arb.u8, arb.version, arb.u32, (nonce, cid, version, fw, caps) => {
        const response = { nonce, cid, protocolVersion: version, firmwareVersion: fw, capabilities: caps };
        expect(decodeInitResponse(encodeInitResponse(response))).toEqual(response);
        expect(decodeInitRequest(encodeInitRequest(nonce))).toEqual(nonce);
      }),
      { numRuns: 100 },
    );
  });

  it("error bodies round-trip any reason of at most 200 UTF-8 bytes", () => {
    fc.assert(
      fc.property(arb.utf8String(200), (reason) => {
        expect(decodeErrorBody(encodeErrorBody(reason))).toBe(reason);
      }),
    );
  });
});

/**
 * Every decoder over random bytes: a value or a ProtocolError, never another exception. Work is
 * bounded without a clock: each field read consumes input, so the number of reads is counted
 * and must stay within a small multiple of the body length.
 */
describe("decoders over arbitrary bytes", () => {
  const decoders: Array<[string, (body: Uint8Array) => unknown]> = [
    ...Object.values(COMMAND_CODECS).flatMap(
      (codec): Array<[string, (body: Uint8Array) => unknown]> => [
        [`${codec.name} request`, (body) => codec.decodeRequest(body)],
        [`${codec.name} response`, (body) => codec.decodeResponse(body)],
      ],
    ),
    ["request envelope", decodeRequestEnvelope],
    ["response envelope", decodeResponseEnvelope],
    ["INIT request", decodeInitRequest],
    ["INIT response", decodeInitResponse],
    ["error body", decodeErrorBody],
  ];

  const reader = ByteReader.prototype as unknown as { take: (count: number, field: string) => Uint8Array };

  it("the read counter sees the reads of a decoder", () => {
    const original = reader.take;
    let reads = 0;
    reader.take = function (this: unknown, count: number, field: string) {
      reads++;
      return original.call(this, count, field);
    };
    try {
      GetTime.decodeResponse(new Uint8Array(12));
    } finally {
      reader.take = original;
    }
    expect(reads).toBe(3);
  });

  for (const [name, decode] of decoders) {
    it(`${name}: a value or a ProtocolError, in bounded work`, () => {
      const original = reader.take;
      let reads = 0;
      reader.take = function (this: unknown, count: number, field: string) {
        reads++;
        return original.call(this, count, field);
      };
      try {
        fc.assert(
          fc.property(arb.anyBody, (body) => {
            reads = 0;
            try {
              decode(body);
            } catch (error) {
              if (!(error instanceof ProtocolError)) throw error;
            }
            expect(reads).toBeLessThanOrEqual(2 * body.length + 2);
          }),
          { numRuns: 300 },
        );
      } finally {
        reader.take = original;
      }
    });
  }

  it("bodies cut from valid encodings at every length decode or fail with a ProtocolError", () => {
    for (const { codec, requestHex, responseHex } of CASES) {
      for (const bodyHex of [requestHex, responseHex]) {
        const body = bytesOf(bodyHex);
        for (let length = 0; length <= body.length; length++) {
          for (const decode of [codec.decodeRequest, codec.decodeResponse]) {
            try {
              decode(body.subarray(0, length));
            } catch (error) {
              if (!(error instanceof ProtocolError)) throw error;
            }
          }
        }
      }
    }
  });
});

import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RegistryTree, RegistryValue } from "../../../src/registry/index.js";
import {
  decodeIniBody,
  INI_FORMAT_HEADER,
  parseIniBody,
  parseIniTextChunked,
  serializeIni,
  verifyIniChecksum,
  verifyIniChecksumChunked,
} from "../../../src/registry/ini-format.js";
import { KeyNode } from "../../../src/registry/key-tree.js";

const FILE = "/var/lib/keybridge/registry.ini";
const noPause = async () => {};

function withChecksum(text: string): Buffer {
  const body = Buffer.from(text, "utf8");
  return Buffer.concat([body, Buffer.from(`; checksum=sha256:${createHash("sha256").update(body).digest("hex")}\n`)]);
}

function parse(bytes: Buffer): KeyNode {
  return parseIniBody(verifyIniChecksum(bytes, FILE).body, FILE);
}

const value: fc.Arbitrary<RegistryValue> = fc.oneof(
  fc
    .string({ unit: "grapheme" })
    .filter((s) => !s.includes("\0"))
    .map((s) => ({ type: "string", value: s }) as RegistryValue),
  fc.integer({ min: 0, max: 0xffffffff }).map((n) => ({ type: "u32", value: n }) as RegistryValue),
  fc.uint8Array({ maxLength: 33 }).map((b) => ({ type: "binary", value: b }) as RegistryValue),
);
const borrows: fc.Arbitrary<RegistryTree> = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.array(value, { minLength: 1, maxLength: 5 })), {
    maxLength: 30,
  })
  .map((entries) => {
    const subkeys: Record<string, RegistryTree> = {};
    for (const [id, values] of entries) {
      subkeys[String(id)] = { values: Object.fromEntries(values.map((v, i) => [`V${i}`, v])), subkeys: {} };
    }
    return { values: {}, subkeys: { Borrows: { values: {}, subkeys: { "K-1": { values: {}, subkeys } } } } };
  });

describe("INI registry parse", () => {
  it("writes back a file it read byte for byte, values never decoded", () => {
    fc.assert(
      fc.property(borrows, (tree) => {
        const { bytes } = serializeIni(KeyNode.fromTree("", tree));
        expect(serializeIni(parse(bytes)).bytes.equals(bytes)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("gives the same tree in chunks as in one go, and the same checksum", async () => {
    await fc.assert(
      fc.asyncProperty(borrows, async (tree) => {
        const { bytes, checksum } = serializeIni(KeyNode.fromTree("", tree));
        const verified = await verifyIniChecksumChunked(bytes, FILE, noPause);
        expect(verified.checksum).toBe(checksum);
        const chunked = await parseIniTextChunked(decodeIniBody(verified.body, FILE), FILE, noPause);
        expect(chunked.toTree()).toEqual(parse(bytes).toTree());
        expect(chunked.toTree()).toEqual(KeyNode.fromTree("", tree).toTree());
      }),
      { numRuns: 100 },
    );
  });

  it("reads a hand-edited section whose values are split by blank and comment lines", () => {
    const root = parse(
      withChecksum(`${INI_FORMAT_HEADER}\n\n[Borrows\\K-1\\7]\nProduct=u32:1\n\n; a note\nClient=str:ws%3D1\n`),
    );
    const values = root.find(["Borrows", "K-1", "7"])?.toTree().values;
    expect(values).toEqual({ Product: { type: "u32", value: 1 }, Client: { type: "string", value: "ws=1" } });
  });

  it.each([
    ["a duplicate value split from the first by a comment", "[A]\nX=u32:1\n; c\nx=u32:2\n", /appears twice/],
    ["a malformed escape in string data", "[A]\nX=str:%G1\n", /line 3: malformed percent escape/],
    ["a u32 above 2^32-1", "[A]\nX=u32:4294967296\n", /not str:, u32: or bin:/],
    ["upper-case hex", "[A]\nX=bin:AB\n", /not str:, u32: or bin:/],
    ["odd-length hex", "[A]\nX=bin:abc\n", /not str:, u32: or bin:/],
    ["an empty leading key name", "[\\B]\n", /empty key name/],
    ["a section declared twice", "[A\\B]\n[a\\b]\n", /appears twice/],
  ])("refuses %s at once, naming the line", (_why, text, message) => {
    expect(() => parse(withChecksum(`${INI_FORMAT_HEADER}\n${text}`))).toThrow(message);
  });

  it("pauses between chunks of a large file, so the daemon keeps answering", async () => {
    const subkeys: Record<string, RegistryTree> = {};
    for (let id = 1; id <= 30_000; id++) {
      subkeys[String(id)] = {
        values: { Binding: { type: "binary", value: new Uint8Array(32).fill(id % 256) } },
        subkeys: {},
      };
    }
    const tree = { values: {}, subkeys: { Borrows: { values: {}, subkeys: { "K-1": { values: {}, subkeys } } } } };
    const { bytes } = serializeIni(KeyNode.fromTree("", tree));
    expect(bytes.length).toBeGreaterThan(2 * 1024 * 1024);
    let pauses = 0;
    const pause = async () => {
      pauses++;
    };
    const { body } = await verifyIniChecksumChunked(bytes, FILE, pause);
    expect(pauses).toBeGreaterThanOrEqual(2);
    pauses = 0;
    const root = await parseIniTextChunked(decodeIniBody(body, FILE), FILE, pause);
    expect(pauses).toBeGreaterThanOrEqual(3);
    expect(root.find(["Borrows", "K-1"])?.subkeyNames()).toHaveLength(30_000);
  });
});

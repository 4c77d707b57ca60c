import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RegistryTree, RegistryValue } from "../../../src/registry/index.js";
import {
  decodeEscaped,
  encodeName,
  encodeText,
  parseIniBody,
  serializeIni,
  verifyIniChecksum,
} from "../../../src/registry/ini-format.js";
import { KeyNode } from "../../../src/registry/key-tree.js";

const FILE = "/var/lib/keybridge/registry.ini";

function parse(bytes: Buffer): KeyNode {
  return parseIniBody(verifyIniChecksum(bytes, FILE).body, FILE);
}

const storableText = fc.string({ unit: "grapheme" }).filter((s) => !s.includes("\0"));
const name = storableText.filter((s) => s.length > 0);
const value: fc.Arbitrary<RegistryValue> = fc.oneof(
  storableText.map((s) => ({ type: "string", value: s }) as RegistryValue),
  fc.integer({ min: 0, max: 0xffffffff }).map((n) => ({ type: "u32", value: n }) as RegistryValue),
  fc.uint8Array({ maxLength: 40 }).map((b) => ({ type: "binary", value: b }) as RegistryValue),
);
const uniqueByCase = <T>(entries: [string, T][]) =>
  entries.filter(([n], i) => entries.findIndex(([m]) => m.toLowerCase() === n.toLowerCase()) === i);
function treeOfDepth(depth: number): fc.Arbitrary<RegistryTree> {
  const keyName = name.filter((s) => !s.includes("\\") && s.length <= 255);
  return fc.record({
    values: fc.array(fc.tuple(name, value), { maxLength: 4 }).map((e) => Object.fromEntries(uniqueByCase(e))),
    subkeys:
      depth === 0
        ? fc.constant({})
        : fc
            .array(fc.tuple(keyName, treeOfDepth(depth - 1)), { maxLength: 3 })
            .map((e) => Object.fromEntries(uniqueByCase(e))),
  });
}
const tree = treeOfDepth(3);

describe("INI registry format", () => {
  it("writes readable sections and typed values", () => {
    const root = KeyNode.fromTree("", {
      values: {},
      subkeys: {
        Borrows: {
          values: {},
          subkeys: {
            "K-1": {
              values: {},
              subkeys: {
                "42": {
                  values: {
                    Product: { type: "u32", value: 1001 },
                    Client: { type: "string", value: "ws-12.cad.local" },
                    Binding: { type: "binary", value: Uint8Array.from([0xde, 0xad]) },
                  },
                  subkeys: {},
                },
              },
            },
          },
        },
      },
    });
    const text = serializeIni(root).bytes.toString("utf8");
    expect(text).toContain("\n[Borrows\\K-1\\42]\nProduct=u32:1001\nClient=str:ws-12.cad.local\nBinding=bin:dead\n");
    expect(text).toMatch(/\n; checksum=sha256:[0-9a-f]{64}\n$/);
  });

  it("escapes only the characters that would break the structure", () => {
    expect(encodeName("Product")).toBe("Product");
    expect(encodeName("a=b[c];d\\e%f")).toBe("a%3Db%5Bc%5D%3Bd%5Ce%25f");
    expect(encodeName(" lead and trail ")).toBe("%20lead and trail%20");
    expect(encodeText("line1\nline2\r")).toBe("line1%0Aline2%0D");
    expect(encodeText("café = 1; [ok]")).toBe("café = 1; [ok]");
    expect(decodeEscaped("a%3Db%0A")).toBe("a=b\n");
  });

  it("round-trips arbitrary names, strings and binaries", () => {
    fc.assert(
      fc.property(tree, (input) => {
        const root = KeyNode.fromTree("", input);
        expect(parse(serializeIni(root).bytes).toTree()).toEqual(root.toTree());
      }),
      { numRuns: 300 },
    );
  });

  it("detects any single flipped bit", () => {
    const { bytes } = serializeIni(
      KeyNode.fromTree("", {
        values: { A: { type: "string", value: "x" } },
        subkeys: { B: { values: {}, subkeys: {} } },
      }),
    );
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.nat(7), (at, bit) => {
        const damaged = Buffer.from(bytes);
        damaged[at]! ^= 1 << bit;
        expect(() => parse(damaged)).toThrow(expect.objectContaining({ code: "REGISTRY_CORRUPT" }));
      }),
    );
  });

  it("detects truncation at every length, naming the file", () => {
    const { bytes } = serializeIni(
      KeyNode.fromTree("", {
        values: {},
        subkeys: { Borrows: { values: { N: { type: "u32", value: 7 } }, subkeys: {} } },
      }),
    );
    for (let length = 0; length < bytes.length; length++) {
      expect(() => parse(bytes.subarray(0, length))).toThrow(FILE);
    }
  });

  it("refuses a file with a valid checksum but foreign content", () => {
    const body = Buffer.from("[General]\nNetworkPort=22350\n");
    const withChecksum = Buffer.concat([
      body,
      Buffer.from(`; checksum=sha256:${createHash("sha256").update(body).digest("hex")}\n`),
    ]);
    expect(() => parse(withChecksum)).toThrow(/not a keybridge registry/);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BorrowRow } from "../../../src/ledger/index.js";
import {
  encodeValueLines,
  entryMatches,
  entryOfRow,
  entryValueLines,
  entryValues,
  parseBorrowEntry,
} from "../../../src/registry/index.js";
import { forEachValueLine } from "../../../src/registry/ini-codec.js";

const hex = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"));
const row: fc.Arbitrary<BorrowRow> = fc.record({
  serial: fc.constantFrom("KB-1", "KB-DEMO-0001"),
  id: fc.integer({ min: 1, max: 2 ** 40 }),
  opId: hex(16),
  product: fc.integer({ min: 0, max: 0xffffffff }),
  client: fc.string({ unit: "grapheme", maxLength: 64 }).filter((s) => !s.includes("\0")),
  // Includes times past year 9999, written with six-digit years.
  issuedAt: fc.integer({ min: 0, max: 300_000_000_000_000 }),
  expiresAt: fc.integer({ min: 0, max: 300_000_000_000_000 }),
  binding: hex(32),
  tag: hex(16),
  state: fc.constant("active" as const),
  dummyUntil: fc.constant(null),
  settleOpId: fc.constant(null),
  createdAt: fc.constant(0),
  updatedAt: fc.constant(0),
});

describe("registry entry codec", () => {
  it("builds the stored text of an entry exactly as the registry encodes its values", () => {
    fc.assert(
      fc.property(row, (r) => {
        const expected = encodeValueLines(Object.entries(entryValues(r)).map(([name, value]) => ({ name, value })));
        expect(entryValueLines(r)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("reads back from that text an entry that matches its row", () => {
    fc.assert(
      fc.property(row, (r) => {
        const values: { name: string; value: import("../../../src/registry/index.js").RegistryValue }[] = [];
        forEachValueLine(entryValueLines(r), (name, value) => values.push({ name, value }));
        const entry = parseBorrowEntry(r.serial, String(r.id), values);
        expect(entry).toBeDefined();
        expect(entryMatches(entry!, r)).toBe(true);
        // What a read takes from the row, without decoding, when the text matches.
        expect(entryOfRow(r)).toEqual(entry);
        expect(entryMatches(entry!, { ...r, tag: r.tag === "00".repeat(16) ? "11".repeat(16) : "00".repeat(16) })).toBe(
          false,
        );
      }),
      { numRuns: 300 },
    );
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isoTime } from "../../../src/bridge/iso-time.js";

describe("isoTime", () => {
  it("equals toISOString for every time with a four-digit year", () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it("equals toISOString at day, year and range edges, and outside the four-digit years", () => {
    const edges = [
      0, -1, 1, 86_399_999, 86_400_000, -86_400_000, -86_400_001, 951_782_400_000, 4_102_444_799_999,
      -62_167_219_200_000, -62_167_219_200_001, 253_402_300_799_999, 253_402_300_800_000, 8.64e15, -8.64e15,
    ];
    for (const ms of edges) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it("equals toISOString for many times on the same few days (the cached date parts)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 86_399_999 }), (day, time) => {
        const ms = 1_800_000_000_000 + day * 86_400_000 + time;
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5_000 },
    );
  });
});

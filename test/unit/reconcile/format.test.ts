import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatTime } from "../../../src/reconcile/index.js";

function viaDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, -14)} ${iso.slice(-13, -8)} UTC`;
}

describe("formatTime", () => {
  it("formats like the ISO date, to the minute, in UTC", () => {
    expect(formatTime(Date.UTC(2025, 0, 31, 12, 5, 59))).toBe("2025-01-31 12:05 UTC");
    expect(formatTime(Date.UTC(2024, 1, 29, 23, 59))).toBe("2024-02-29 23:59 UTC");
    expect(formatTime(0)).toBe("1970-01-01 00:00 UTC");
  });

  it("agrees with Date for every instant from 1970 to year 9999 and beyond", () => {
    fc.assert(
      fc.property(fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), (ms) => {
        expect(formatTime(ms)).toBe(viaDate(ms));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(formatTime(ms)).toBe(viaDate(ms));
      }),
      { numRuns: 5000 },
    );
  });

  it("says so when the date is unknown", () => {
    expect(formatTime(null)).toBe("an unknown date");
    expect(formatTime(Number.NaN)).toBe("an unknown date");
  });
});

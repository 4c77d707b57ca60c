import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration } from "../../../src/config/duration.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe("formatDuration rounds to its last unit instead of cutting", () => {
  it.each([
    [7 * DAY - 50, "7 d"],
    [14 * DAY - 1_000, "14 d"],
    [29 * DAY + 13 * HOUR, "30 d"],
    [2 * DAY - 10 * 60_000, "2 d"],
    [DAY + 4 * HOUR + 20 * 60_000, "1 d 4 h"],
    [DAY - 10_000, "1 d"],
    [5 * HOUR + 3 * 60_000 + 20_000, "5 h 3 m"],
    [HOUR - 10_000, "1 h"],
    [59_600, "1 m"],
    [42_400, "42 s"],
    [0, "0 s"],
  ])("%d ms → %s", (ms, shown) => {
    expect(formatDuration(ms)).toBe(shown);
    expect(formatDuration(-ms)).toBe(shown);
  });

  it("never shows a number of a unit that rounds over into the next one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * DAY }), (ms) => {
        const shown = formatDuration(ms);
        expect(shown).toMatch(/^(\d+ d|1 d \d+ h|\d+ h( \d+ m)?|\d+ m|\d+ s)$/);
        expect(shown).not.toMatch(/(^|\s)60 [sm]|24 h|1 d 0 h/);
      }),
    );
  });
});

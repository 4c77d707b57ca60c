import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nestingTooDeepAt } from "../../../src/ledger/json-bounds.js";

function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value !== null && typeof value === "object") return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

describe("nestingTooDeepAt", () => {
  it("agrees with the parsed depth of any JSON value, brackets inside strings included", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 9 }), (value, limit) => {
        const text = JSON.stringify(value);
        const at = nestingTooDeepAt(text, limit);
        expect(at === undefined).toBe(depthOf(value) <= limit);
        if (at !== undefined) expect("[{").toContain(text[at]);
      }),
    );
  });
});

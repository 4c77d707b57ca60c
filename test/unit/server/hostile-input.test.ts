import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

describe("client names with control characters are refused at the API", () => {
  it.each([
    ["ws\u0000evil", "U+0000 (NUL) at position 3"],
    ["\u001b]0;pwned\u0007", "U+001B (ESC) at position 1"],
    ["ws-07\n2  KB-0001  1001  forged", "U+000A (LF) at position 6"],
    ["ws\u202eexe.txt", "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 3"],
    ["ws\u0085", "U+0085 (C1 control) at position 3"],
  ])("%j → 400 VALIDATION naming the character and its position; nothing borrowed", async (client, where) => {
    const response = await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; field: string; detail: string };
    expect(body.code).toBe("VALIDATION");
    expect(body.field).toBe("client");
    expect(body.detail).toContain(`client: holds ${where}`);
    expect(await (await h.api("/v1/borrows")).json()).toEqual([]);
  });

  it("the OpenAPI document says what a client name may hold", async () => {
    const doc = (await (await h.api("/v1/openapi.json")).json()) as Record<string, unknown>;
    expect(JSON.stringify(doc)).toContain("no control characters, line breaks or bidirectional controls");
  });
});

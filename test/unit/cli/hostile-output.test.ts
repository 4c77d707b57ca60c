import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Bridge } from "../../../src/bridge/api.js";
import { type CliHarness, startCli } from "./cli-harness.js";

let h: CliHarness;
beforeEach(async () => {
  h = await startCli({ serve: hostileNames });
});
afterEach(async () => {
  await h.close();
});

/** Anything a terminal would act on: C0/C1 controls but the line feeds, DEL, bidi controls, separators. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const CLEAR_SCREEN = "\u001b[2J\u001b[H";
const FORGED_ROW = "ws-07\r\n9   KB-0001  1001     forged";
const REVERSED = "ws\u202etxt.exe";

const HOSTILE = [CLEAR_SCREEN, FORGED_ROW, REVERSED];

/**
 * The daemon as a hostile API, or one reading a ledger written before names were checked, would
 * answer: every string of every answer with the placeholder clients `hostile-N` replaced by the
 * hostile names (the bridge itself refuses them now).
 */
function hostileNames(bridge: Bridge): Bridge {
  const swap = (value: unknown): unknown => {
    if (typeof value === "string") return value.replace(/hostile-(\d)/g, (_, i: string) => HOSTILE[Number(i)]!);
    if (Array.isArray(value)) return value.map(swap);
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, swap(inner)]));
    }
    return value;
  };
  return new Proxy(bridge, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        return result instanceof Promise ? result.then(swap) : swap(result);
      };
    },
  });
}

async function hostileBorrows(): Promise<void> {
  for (const i of [0, 1, 2]) await h.bridge.borrow({ product: 1001, client: `hostile-${i}` });
}

describe("everything the CLI prints from data is made safe", () => {
  it("borrows: escape sequences, CR/LF and bidi overrides are shown escaped, one row per borrow", async () => {
    await hostileBorrows();
    const { code, stdout } = await h.cli("borrows");
    expect(code).toBe(0);
    expect(stdout).not.toMatch(RAW_CONTROL);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1 + 3);
    expect(stdout).toContain("\\u001b[2J\\u001b[H");
    expect(stdout).toContain("ws-07\\u000d\\u000a9   KB-0001  1001     forged");
    expect(stdout).toContain("ws\\u202etxt.exe");
  });

  it("status, keys, the maintenance note, audit and events are made safe too", async () => {
    await hostileBorrows();
    await h.api("/v1/maintenance", { method: "POST", json: { at: new Date(Date.now() + 86_400_000).toISOString() } });
    for (const args of [["status"], ["keys"], ["maintenance"], ["audit"], ["events"]]) {
      const { stdout, stderr } = await h.cli(...args);
      expect(stdout, args.join(" ")).not.toMatch(RAW_CONTROL);
      expect(stderr, args.join(" ")).not.toMatch(RAW_CONTROL);
    }
  });

  it("--json stays valid JSON with the same data, bidi controls and C1 escaped", async () => {
    await hostileBorrows();
    const { stdout, json } = await h.cli("borrows", "--json");
    expect(stdout).not.toMatch(RAW_CONTROL);
    expect((json as { client: string }[]).map((b) => b.client)).toEqual(HOSTILE);
  });

  it("error messages quoting what the user typed are made safe", async () => {
    const unknownOption = await h.cli("borrows", `--${CLEAR_SCREEN}`);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).not.toMatch(RAW_CONTROL);
    const missing = await h.cli("return", "77", "--serial", `KB${CLEAR_SCREEN}`);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).not.toMatch(RAW_CONTROL);
  });
});

describe("borrow --client is checked before anything is sent", () => {
  it.each([
    ["ws\u0007", "U+0007 (BEL) at position 3"],
    [CLEAR_SCREEN, "U+001B (ESC) at position 1"],
    [REVERSED, "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 3"],
  ])("%j: exit 2 (usage) naming the character and where; nothing borrowed", async (client, where) => {
    const { code, stderr } = await h.cli("borrow", "1001", "--client", client);
    expect(code).toBe(2);
    expect(stderr).toContain(`--client holds ${where}`);
    expect(await h.bridge.borrows()).toEqual([]);
  });
});

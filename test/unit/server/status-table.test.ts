import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { VirtualKeyErrorCode } from "../../../native-mocks/errors.js";
import { REFUSAL_CODES } from "../../../src/key/errors.js";
import { ProtocolErrorCode } from "../../../src/protocol/errors.js";
import { STATUS_BY_CODE, toProblem } from "../../../src/server/problem.js";

// Every code a layer of the daemon can throw has its HTTP status in STATUS_BY_CODE, and the table
// holds no code nothing throws (a retired alias would hide there). The CLI's own errors are left
// out: they happen in the CLI process and become exit codes, never an HTTP answer.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** `super("CODE", ...)` and `new SomethingError("CODE", ...)` (a plain `new Error("...")` has a message, no code). */
const THROWN = [/\bsuper\(\s*"([A-Z][A-Z0-9_]+)"/g, /\bnew (?!Error\b)[A-Z]\w*\(\s*"([A-Z][A-Z0-9_]+)"/g];
/** The server's own answers: problemOf("INTERNAL", ...) and fastify's errors renamed (`code: "PAYLOAD_TOO_LARGE"`). */
const ANSWERED = [/\bproblemOf\(\s*"([A-Z][A-Z0-9_]+)"/g, /\bcode: "([A-Z][A-Z0-9_]+)"/g];

function codesIn(files: string[], patterns: RegExp[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) found.set(match[1]!, relative(ROOT, file));
    }
  }
  return found;
}

const daemonSources = [...sources(join(ROOT, "src")), ...sources(join(ROOT, "native-mocks"))].filter(
  (file) => !relative(ROOT, file).startsWith("src/cli/"),
);
const thrown = codesIn(daemonSources, THROWN);
const answered = codesIn([join(ROOT, "src/server/problem.ts")], ANSWERED);
const declared = [...REFUSAL_CODES, ...Object.values(ProtocolErrorCode), ...Object.values(VirtualKeyErrorCode)];
const everyCode = new Set([...thrown.keys(), ...answered.keys(), ...declared]);

describe("STATUS_BY_CODE", () => {
  it("finds the codes it checks (the scan itself works)", () => {
    expect(thrown.get("UNKNOWN_BORROW")).toBe("src/bridge/errors.ts");
    expect(thrown.get("LEDGER_DISK_FULL")).toBe("src/ledger/errors.ts");
    expect(thrown.has("KEY_COUNTERFEIT")).toBe(true);
    expect(answered.has("INTERNAL")).toBe(true);
    expect(everyCode.size).toBeGreaterThan(100);
  });

  it("lists every code a layer of the daemon can throw", () => {
    const missing = [...everyCode]
      .filter((code) => !(code in STATUS_BY_CODE))
      .map((code) => `${code} (${thrown.get(code) ?? "declared"})`);
    expect(missing).toEqual([]);
  });

  it("lists no code that nothing throws", () => {
    expect(Object.keys(STATUS_BY_CODE).filter((code) => !everyCode.has(code))).toEqual([]);
  });

  it("one code per meaning: the key's 'no such borrow', 'no seat' and 'no such product' are the bridge's codes", () => {
    for (const retired of ["BORROW_NOT_FOUND", "KEY_UNKNOWN_BORROW", "KEY_NO_BORROWABLE", "KEY_UNKNOWN_PRODUCT"]) {
      expect(everyCode.has(retired), retired).toBe(false);
    }
  });

  it("no status is guessed from a code's name: an unlisted code is a 500 that tells nothing", () => {
    const unlisted = Object.assign(new Error("secret detail"), { code: "SOMETHING_NOT_FOUND" });
    expect(toProblem(unlisted)).toMatchObject({ problem: { status: 500, code: "INTERNAL" }, internal: true });
  });
});

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CODEMETER_PRODUCT_IDS,
  CODEMETER_VENDOR_ID,
  USB_PRODUCT_ID,
  USB_VENDOR_ID,
} from "../../../src/protocol/constants.js";
import { Requirement } from "../../support/require-tool.js";
import { type Operator, pairProblems, parseRules, type Rule, type RulePair, RulesSyntaxError } from "./rules-parser.js";

const udevadm = Requirement.tool("udevadm");

const RULES_PATH = fileURLToPath(new URL("../../../udev/70-keybridge.rules", import.meta.url));
const rules = parseRules(readFileSync(RULES_PATH, "utf8"));

const hex4 = (id: number): string => id.toString(16).padStart(4, "0");
const EXPECTED_IDS = [
  `${hex4(USB_VENDOR_ID)}:${hex4(USB_PRODUCT_ID)}`,
  ...CODEMETER_PRODUCT_IDS.map(({ pid }) => `${hex4(CODEMETER_VENDOR_ID)}:${hex4(pid)}`),
].sort();

function value(rule: Rule, key: string, attribute?: string): string | undefined {
  return rule.pairs.find((p) => p.key === key && p.attribute === attribute)?.value;
}

function deviceId(rule: Rule): string {
  return `${value(rule, "ATTRS", "idVendor")}:${value(rule, "ATTRS", "idProduct")}`;
}

function idsOf(kind: "usb" | "hidraw"): string[] {
  const selected = rules.filter((r) =>
    kind === "usb" ? value(r, "SUBSYSTEM") === "usb" : value(r, "KERNEL") === "hidraw*",
  );
  return selected.map(deviceId).sort();
}

describe("rules parser", () => {
  it("reads pairs, comments and backslash continuations", () => {
    const parsed = parseRules(
      [
        "# about the next rule",
        'SUBSYSTEM=="usb", \\',
        '  ATTRS{idVendor}=="1209",TAG+="uaccess"',
        "",
        "# detached comment",
        "",
        'KERNEL!="hidraw*", MODE:="0600"',
      ].join("\n"),
    );
    expect(parsed).toEqual([
      {
        line: 2,
        comment: ["about the next rule"],
        pairs: [
          { key: "SUBSYSTEM", attribute: undefined, operator: "==", value: "usb" },
          { key: "ATTRS", attribute: "idVendor", operator: "==", value: "1209" },
          { key: "TAG", attribute: undefined, operator: "+=", value: "uaccess" },
        ],
      },
      {
        line: 7,
        comment: [],
        pairs: [
          { key: "KERNEL", attribute: undefined, operator: "!=", value: "hidraw*" },
          { key: "MODE", attribute: undefined, operator: ":=", value: "0600" },
        ],
      },
    ]);
  });

  it.each([
    ['SUBSYSTEM=="usb" KERNEL=="x"', "missing comma"],
    ['SUBSYSTEM=="usb",', "trailing comma"],
    ["SUBSYSTEM==usb", "unquoted value"],
    ['SUBSYSTEM=="usb', "unterminated value"],
    ['SUBSYSTEM=~"usb"', "unknown operator"],
    ['subsystem=="usb"', "lower-case key"],
    ['SUBSYSTEM=="usb", \\', "continuation at end of file"],
  ])("rejects %s (%s) with the line number", (source) => {
    expect(() => parseRules(`# header\n${source}`)).toThrow(RulesSyntaxError);
    expect(() => parseRules(`# header\n${source}`)).toThrow(/^line 2:/);
  });

  it("flags unknown keys and operators used on the wrong kind of key", () => {
    const pair = (key: string, operator: Operator, attribute?: string): RulePair => ({
      key,
      attribute,
      operator,
      value: "x",
    });
    expect(pairProblems(pair("SUBSYSTEM", "=="))).toEqual([]);
    expect(pairProblems(pair("GROUP", "="))).toEqual([]);
    expect(pairProblems(pair("TAG", "+="))).toEqual([]);
    expect(pairProblems(pair("TAG", "=="))).toEqual([]);
    expect(pairProblems(pair("SUBSYSTEM", "="))).toEqual(["SUBSYSTEM is a match key but uses ="]);
    expect(pairProblems(pair("MODE", "=="))).toEqual(["MODE is an assignment key but uses =="]);
    expect(pairProblems(pair("ATTRS", "+=", "idVendor"))).toEqual(["ATTRS{idVendor} is a match key but uses +="]);
    expect(pairProblems(pair("ATTRS", "=="))).toEqual(["ATTRS needs {attribute}"]);
    expect(pairProblems(pair("GROUP", "=", "x"))).toEqual(["GROUP takes no {attr}"]);
    expect(pairProblems(pair("VENDOR", "=="))).toEqual(["unknown key VENDOR"]);
  });

  it("parses back whatever well-formed rule it is given", () => {
    const key = fc.constantFrom("SUBSYSTEM", "KERNEL", "GROUP", "MODE", "TAG", "ATTRS");
    const attribute = fc.option(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/), { nil: undefined });
    const operator = fc.constantFrom<Operator>("==", "!=", "=", "+=", "-=", ":=");
    const text = fc.stringMatching(/^[A-Za-z0-9_*:.,= /-]{0,16}$/);
    const pairs = fc.array(fc.record({ key, attribute, operator, value: text }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(pairs, fc.boolean(), (generated, split) => {
        const rendered = generated.map(
          (p) => `${p.key}${p.attribute === undefined ? "" : `{${p.attribute}}`}${p.operator}"${p.value}"`,
        );
        const source = rendered.join(split ? ", \\\n  " : ", ");
        const [rule] = parseRules(source);
        expect(rule?.pairs).toEqual(generated);
      }),
    );
  });
});

describe("udev/70-keybridge.rules", () => {
  it("is numbered below 73 so TAG+=uaccess takes effect", () => {
    const name = basename(RULES_PATH);
    expect(name).toMatch(/^70-[a-z0-9-]+\.rules$/);
    expect(Number.parseInt(name, 10)).toBeLessThan(73);
  });

  it("uses only known keys, match operators on match keys and assignments on assignment keys", () => {
    const problems = rules.flatMap((rule) => rule.pairs.flatMap(pairProblems).map((p) => `line ${rule.line}: ${p}`));
    expect(problems).toEqual([]);
  });

  it("has one usb line and one hidraw line for exactly the ids in src/protocol/constants.ts", () => {
    expect(idsOf("usb")).toEqual(EXPECTED_IDS);
    expect(idsOf("hidraw")).toEqual(EXPECTED_IDS);
    expect(rules).toHaveLength(EXPECTED_IDS.length * 2);
  });

  it("writes every id as lower-case 4-digit hex, matched with ==", () => {
    for (const rule of rules) {
      const ids = rule.pairs.filter((p) => p.key === "ATTRS");
      expect(ids.map((p) => p.attribute)).toEqual(["idVendor", "idProduct"]);
      for (const id of ids) {
        expect(id.operator, `line ${rule.line}`).toBe("==");
        expect(id.value, `line ${rule.line}`).toMatch(/^[0-9a-f]{4}$/);
      }
    }
  });

  it("matches each line on exactly one device kind", () => {
    for (const rule of rules) {
      const kinds = [value(rule, "SUBSYSTEM") === "usb", value(rule, "KERNEL") === "hidraw*"].filter(Boolean);
      expect(kinds, `line ${rule.line}`).toHaveLength(1);
    }
  });

  it("grants access to the seat user (uaccess) and to the daemon's group on every line", () => {
    for (const rule of rules) {
      const grants = rule.pairs.filter((p) => ["TAG", "GROUP", "MODE", "OWNER"].includes(p.key));
      expect(grants, `line ${rule.line}`).toEqual([
        { key: "TAG", attribute: undefined, operator: "+=", value: "uaccess" },
        { key: "GROUP", attribute: undefined, operator: "=", value: "keybridge" },
        { key: "MODE", attribute: undefined, operator: "=", value: "0660" },
      ]);
    }
  });

  it("explains every rule line with a comment directly above it", () => {
    const bare = rules.filter((r) => r.comment.length === 0).map((r) => r.line);
    expect(bare).toEqual([]);
  });

  const verify = udevadmVerifySupport();
  const skipNote = udevadm.skipNote || (verify.supported ? "" : ` (skipped: ${verify.reason})`);
  it(`is accepted by udevadm verify${skipNote}`, (ctx) => {
    udevadm.check(ctx);
    // An older udevadm is a version, not a missing tool: it stays a visible skip, also in CI.
    if (!verify.supported) {
      console.warn(`udevadm verify step skipped: ${verify.reason}`);
      ctx.skip(verify.reason);
    }
    // Names are not resolved: the keybridge group exists only where the package is installed.
    const result = spawnSync("udevadm", ["verify", "--resolve-names=never", RULES_PATH], { encoding: "utf8" });
    expect(result.error).toBeUndefined();
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
  });
});

type VerifySupport = { supported: true } | { supported: false; reason: string };

/** `udevadm verify` appeared in systemd 253; older udevadm (Debian 12 has 252) lacks it. */
function udevadmVerifySupport(): VerifySupport {
  const probe = spawnSync("udevadm", ["--version"], { encoding: "utf8" });
  if (probe.error !== undefined) return { supported: false, reason: "udevadm is not installed" };
  const version = Number.parseInt(probe.stdout.trim(), 10);
  if (!Number.isFinite(version)) return { supported: false, reason: `unreadable udevadm version ${probe.stdout}` };
  if (version < 253) return { supported: false, reason: `udevadm ${version} predates verify (needs 253)` };
  return { supported: true };
}

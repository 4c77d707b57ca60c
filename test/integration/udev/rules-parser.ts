/**
 * A small parser for udev rules files, enough to check the rules keybridge ships (see udev(7)):
 * comments, blank lines, backslash line continuations and comma-separated `KEY{attr}OP"value"`
 * pairs. It is strict where udev is lenient, so a typo fails a test instead of being ignored
 * by udevd at runtime with a log line nobody reads.
 */

export type Operator = "==" | "!=" | "=" | "+=" | "-=" | ":=";
export const MATCH_OPERATORS: ReadonlySet<Operator> = new Set(["==", "!="]);
export const ASSIGN_OPERATORS: ReadonlySet<Operator> = new Set(["=", "+=", "-=", ":="]);

export interface RulePair {
  readonly key: string;
  /** The `{...}` part, e.g. `idVendor` of `ATTRS{idVendor}`; undefined when absent. */
  readonly attribute: string | undefined;
  readonly operator: Operator;
  readonly value: string;
}

export interface Rule {
  /** 1-based line where the rule starts (a continued rule spans more lines). */
  readonly line: number;
  readonly pairs: readonly RulePair[];
  /** The comment lines directly above the rule, without their `#`. */
  readonly comment: readonly string[];
}

export class RulesSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = "RulesSyntaxError";
  }
}

/** Longest operators first so `==` is not read as `=` followed by garbage. */
const OPERATOR_PATTERN = "==|!=|\\+=|-=|:=|=";
const PAIR = new RegExp(`^([A-Z_]+)(?:\\{([^{}\\s"]+)\\})?\\s*(${OPERATOR_PATTERN})\\s*"((?:[^"\\\\]|\\\\.)*)"`);

interface LogicalLine {
  readonly line: number;
  readonly text: string;
}

/** Joins backslash-continued lines; keeps the number of the first physical line. */
function logicalLines(source: string): LogicalLine[] {
  const physical = source.split("\n");
  const result: LogicalLine[] = [];
  let pending: LogicalLine | undefined;
  physical.forEach((raw, index) => {
    const text = raw.replace(/\r$/, "");
    const continued = text.endsWith("\\");
    const body = continued ? text.slice(0, -1) : text;
    pending =
      pending === undefined ? { line: index + 1, text: body } : { line: pending.line, text: pending.text + body };
    if (!continued) {
      result.push(pending);
      pending = undefined;
    }
  });
  if (pending !== undefined) throw new RulesSyntaxError(pending.line, "line continuation at end of file");
  return result;
}

function parsePairs(text: string, line: number): RulePair[] {
  const pairs: RulePair[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    const match = PAIR.exec(rest);
    if (match === null) throw new RulesSyntaxError(line, `expected KEY{attr}OP"value" at: ${rest}`);
    const [whole, key, attribute, operator, value] = match;
    pairs.push({ key: key!, attribute, operator: operator as Operator, value: value! });
    rest = rest.slice(whole.length).trimStart();
    if (rest.length === 0) break;
    if (!rest.startsWith(",")) throw new RulesSyntaxError(line, `expected "," between pairs at: ${rest}`);
    rest = rest.slice(1).trimStart();
    if (rest.length === 0) throw new RulesSyntaxError(line, "trailing comma");
  }
  return pairs;
}

export function parseRules(source: string): Rule[] {
  const rules: Rule[] = [];
  let comment: string[] = [];
  for (const { line, text } of logicalLines(source)) {
    const trimmed = text.trim();
    if (trimmed === "") {
      comment = [];
    } else if (trimmed.startsWith("#")) {
      comment.push(trimmed.slice(1).trim());
    } else {
      rules.push({ line, pairs: parsePairs(trimmed, line), comment });
      comment = [];
    }
  }
  return rules;
}

/** How each key may be used; see udev(7). Keys with an attribute are listed without it. */
export type KeyKind = "match" | "assign" | "both";
export const KNOWN_KEYS: Readonly<Record<string, KeyKind>> = {
  ACTION: "match",
  DEVPATH: "match",
  KERNEL: "match",
  KERNELS: "match",
  SUBSYSTEM: "match",
  SUBSYSTEMS: "match",
  DRIVER: "match",
  DRIVERS: "match",
  ATTRS: "match",
  TAGS: "match",
  CONST: "match",
  TEST: "match",
  PROGRAM: "match",
  RESULT: "match",
  NAME: "both",
  SYMLINK: "both",
  ATTR: "both",
  SYSCTL: "both",
  ENV: "both",
  TAG: "both",
  OWNER: "assign",
  GROUP: "assign",
  MODE: "assign",
  SECLABEL: "assign",
  RUN: "assign",
  LABEL: "assign",
  GOTO: "assign",
  IMPORT: "assign",
  OPTIONS: "assign",
};

/** Keys that need a `{attribute}` part, and keys that must not have one. */
const NEEDS_ATTRIBUTE = new Set(["ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "SECLABEL"]);
const MAY_HAVE_ATTRIBUTE = new Set([...NEEDS_ATTRIBUTE, "TEST", "IMPORT", "RUN"]);

/** Problems with one pair's key and operator, empty when it is well formed. */
export function pairProblems(pair: RulePair): string[] {
  const kind = KNOWN_KEYS[pair.key];
  const name = pair.attribute === undefined ? pair.key : `${pair.key}{${pair.attribute}}`;
  if (kind === undefined) return [`unknown key ${name}`];
  const problems: string[] = [];
  if (NEEDS_ATTRIBUTE.has(pair.key) && pair.attribute === undefined) problems.push(`${pair.key} needs {attribute}`);
  if (!MAY_HAVE_ATTRIBUTE.has(pair.key) && pair.attribute !== undefined) problems.push(`${pair.key} takes no {attr}`);
  const isMatch = MATCH_OPERATORS.has(pair.operator);
  if (isMatch && kind === "assign") problems.push(`${name} is an assignment key but uses ${pair.operator}`);
  if (!isMatch && kind === "match") problems.push(`${name} is a match key but uses ${pair.operator}`);
  return problems;
}

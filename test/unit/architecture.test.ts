import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The layer rules (CONTRIBUTING.md, "Layers"), checked on the import graph of `src/` and
 * `native-mocks/`: dependencies point down only (cli → server → bridge → {key, registry,
 * ledger, host, reconcile, codemeter} → transport → protocol), every layer above the protocol
 * shares one vocabulary, the pure layers do no I/O, and logging goes through winston. Each
 * violation names the file, the import and the rule it breaks.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

type Layer =
  | "protocol"
  | "transport"
  | "key"
  | "registry"
  | "ledger"
  | "host"
  | "reconcile"
  | "codemeter"
  | "bridge"
  | "server"
  | "cli"
  | "config"
  | "vocabulary"
  | "errors"
  | "log"
  | "serial-queue"
  | "package"
  | "native-mocks";

/**
 * What every layer above the protocol may use: the vocabulary (`src/vocabulary/`: borrow states,
 * the borrow key, the ledger's borrow shape, severities, the protocol's units re-exported) and the
 * leaves that import nothing of the project.
 */
const SHARED_LEAVES: readonly Layer[] = ["vocabulary", "errors", "log", "serial-queue"];
const BELOW_BRIDGE: readonly Layer[] = [
  "key",
  "registry",
  "ledger",
  "host",
  "reconcile",
  "codemeter",
  "transport",
  "protocol",
];

/**
 * Which layers each layer may import (besides itself). Siblings of the middle row do not import
 * each other. The server and the CLI may use the pure layers' vocabulary (protocol constants,
 * the preflight action names) but reach the I/O layers only through the bridge.
 */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  protocol: [],
  transport: ["protocol", ...SHARED_LEAVES],
  key: ["transport", "protocol", ...SHARED_LEAVES],
  registry: ["transport", "protocol", ...SHARED_LEAVES],
  ledger: ["transport", "protocol", ...SHARED_LEAVES],
  host: ["transport", "protocol", ...SHARED_LEAVES],
  // Pure: the transport below it does I/O, so only the pure protocol layer is in reach.
  reconcile: ["protocol", ...SHARED_LEAVES],
  // Read-only CodeMeter mode: the Windows registry backend (read), host identity and clock types,
  // the transport's discovery types (CmSticks), and the preflight action names of reconcile.
  codemeter: ["registry", "host", "transport", "reconcile", "protocol", ...SHARED_LEAVES],
  bridge: [...BELOW_BRIDGE, ...SHARED_LEAVES],
  server: ["bridge", "config", "reconcile", "protocol", ...SHARED_LEAVES],
  cli: ["server", "bridge", "config", "reconcile", "protocol", ...SHARED_LEAVES],
  config: [...SHARED_LEAVES],
  // Words, not behaviour: it re-exports the protocol's units and limits and needs nothing else.
  vocabulary: ["protocol"],
  errors: [],
  log: [],
  "serial-queue": [],
  // The library entry (`import { openBridge } from "keybridge"`) sits above everything.
  package: ["cli", "server", "bridge", "config", ...BELOW_BRIDGE, ...SHARED_LEAVES],
  // The virtual key firmware parses and emits bytes: the protocol is all of src/ it may see.
  "native-mocks": ["protocol"],
};

/** The Bridge interface and `openBridge`: the only files of the bridge other layers may name. */
const BRIDGE_FACADE = new Set(["src/bridge/api.ts", "src/bridge/index.ts"]);

/** Modules that do I/O or schedule work; the pure layers import none of them. */
const IO_MODULES = new Set([
  "child_process",
  "cluster",
  "dgram",
  "dns",
  "dns/promises",
  "fs",
  "fs/promises",
  "http",
  "http2",
  "https",
  "net",
  "os",
  "readline",
  "tls",
  "timers",
  "timers/promises",
  "worker_threads",
  "better-sqlite3",
  "fastify",
  "native-reg",
  "node-hid",
  "usb",
  "winston",
]);
const PURE_LAYERS: readonly Layer[] = ["protocol", "vocabulary", "reconcile"];
/**
 * Folders of an I/O layer that are pure all the same: parsers and derivations that take what the
 * layer read and return values. They import only each other, the pure layers and src/errors.ts.
 */
const PURE_DIRS: readonly string[] = ["src/codemeter/model/"];
const PURE_TARGETS: readonly string[] = ["src/protocol/", "src/vocabulary/", "src/reconcile/", "src/errors.ts"];

function pureDirOf(file: string): string | undefined {
  return PURE_DIRS.find((dir) => file.startsWith(dir));
}

function isPureFile(file: string): boolean {
  const layer = layerOf(file);
  return (layer !== undefined && PURE_LAYERS.includes(layer)) || pureDirOf(file) !== undefined;
}
const TIMER_CALL = /\b(setTimeout|setInterval|setImmediate)\s*\(/;
/** Reading the clock: a pure function takes `now` as an argument instead. */
const CLOCK_CALL = /\bDate\s*\.\s*now\s*\(|\bnew\s+Date\s*\(\s*\)|\bperformance\s*\.\s*now\s*\(/;

/** Legitimate imports the rules above would refuse, each with the reason it stands. */
const EXCEPTIONS: readonly { from: string; target: string; why: string }[] = [
  {
    // `serve --virtual` is a product feature: the bridge builds the virtual bus and hands its
    // node-hid/usb stand-ins to the transport's factory, so the real transport path runs.
    from: "src/bridge/virtual-world.ts",
    target: "native-mocks/index.ts",
    why: "virtual mode wires the virtual bus into the transport",
  },
  {
    // src/bridge/index.ts would load every bridge module, which is what the check overlaps.
    from: "src/server/daemon-boot.ts",
    target: "src/bridge/ledger-check.ts",
    why: "serve starts the ledger's quick_check on a worker before the daemon's modules load",
  },
  {
    // Same reason: the lock must be held before the check reads the ledger, and it is cheap to load.
    from: "src/server/daemon-boot.ts",
    target: "src/bridge/data-dir.ts",
    why: "serve takes the data directory's lock before anything in it is read",
  },
  {
    from: "src/server/daemon-boot.ts",
    target: "src/bridge/errors.ts",
    why: "the data directory's refusal is completed with the running daemon's URL",
  },
  {
    // Loaded only inside `doctor`'s action: whether the keys enumerate, the ledger opens and the
    // registry file verifies must be answerable when the daemon is down or cannot start.
    from: "src/cli/doctor/local-access.ts",
    target: "src/bridge/local-diagnostics.ts",
    why: "doctor checks the devices, the ledger and the registry file locally, read-only",
  },
  {
    // Loaded only inside `codemeter capture`, doctor's CodeMeter checks and `config` (the default
    // paths): an administrator captures what the CodeMeter mode reads, and doctor says whether it
    // could read it, on a host where the daemon is down or has never run. Read-only: the module
    // writes nothing of CodeMeter's, and what it reads locally stays in memory.
    from: "src/cli/codemeter-local.ts",
    target: "src/codemeter/index.ts",
    why: "codemeter capture and doctor read this host's CodeMeter installation locally, read-only",
  },
  {
    // The key firmware is a shipped part of the package (dist/native-mocks): `keybridge key ...`
    // runs it on a board with a USB device controller. Loaded only inside those commands' actions
    // (the closure check keeps it out of the CLI's start), so no other command ever loads it.
    from: "src/cli/commands/key.ts",
    target: "native-mocks/board/index.ts",
    why: "`keybridge key` serves the reference key firmware on a board's USB gadget",
  },
  {
    // A factory station has no daemon: `keybridge vendor provision|apply` talk to the key over
    // USB through the bridge's station (transport and KeyClient as the daemon uses them). Loaded
    // only inside those two actions.
    from: "src/cli/commands/vendor.ts",
    target: "src/bridge/factory-station.ts",
    why: "the vendor's factory station provisions and updates a key over USB without a daemon",
  },
];

function isException(edge: ImportEdge): boolean {
  const target = edge.target ?? packageName(edge.specifier);
  return EXCEPTIONS.some((e) => e.from === edge.file && e.target === target);
}

interface ImportEdge {
  file: string;
  line: number;
  specifier: string;
  /** Repository-relative path of the imported file, for relative specifiers. */
  target: string | undefined;
  typeOnly: boolean;
  dynamic: boolean;
}

interface ParsedFile {
  file: string;
  imports: ImportEdge[];
  /** The source without comments and string contents, for text rules. */
  code: string;
}

function parseSource(file: string, text: string): ParsedFile {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const imports: ImportEdge[] = [];
  const add = (node: ts.Node, specifier: string, typeOnly: boolean, dynamic: boolean) => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    imports.push({ file, line, specifier, target: resolveTarget(file, specifier), typeOnly, dynamic });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, isTypeOnlyImport(node.importClause), false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      const typeOnly = node.isTypeOnly || (named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly));
      add(node, node.moduleSpecifier.text, typeOnly, false);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      add(node, node.arguments[0].text, false, true);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node, node.argument.literal.text, true, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { file, imports, code: codeOnly(source) };
}

function isTypeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false; // `import "x"` runs the module
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return (
    clause.name === undefined &&
    bindings !== undefined &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly)
  );
}

/** Replaces comments, string and template text and regular expressions with spaces, so rules match code only. */
function codeOnly(source: ts.SourceFile): string {
  const chars = [...source.getFullText()];
  const blank = (start: number, end: number) => {
    for (let i = start; i < end; i++) if (chars[i] !== "\n") chars[i] = " ";
  };
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node) || ts.isRegularExpressionLiteral(node)) {
      blank(node.getStart(source), node.getEnd());
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  // With no string left, the scanner cannot mistake a quote for the start of a comment or vice versa.
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, false, ts.LanguageVariant.Standard, chars.join(""));
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia) {
      blank(scanner.getTokenStart(), scanner.getTokenEnd());
    }
  }
  return chars.join("");
}

function resolveTarget(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = join(dirname(file), specifier);
  const candidates = [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, join(base, "index.ts")];
  const found = candidates.find((c) => existsSync(join(ROOT, c)) && statSync(join(ROOT, c)).isFile());
  return (found ?? base).split("\\").join("/");
}

function layerOf(path: string): Layer | undefined {
  if (path.startsWith("native-mocks/")) return "native-mocks";
  if (path === "src/log.ts") return "log";
  if (path === "src/errors.ts") return "errors";
  if (path === "src/serial-queue.ts") return "serial-queue";
  if (path === "src/index.ts") return "package";
  const match = /^src\/([^/]+)\//.exec(path);
  return match?.[1] && match[1] in ALLOWED ? (match[1] as Layer) : undefined;
}

function packageName(specifier: string): string {
  const bare = specifier.replace(/^node:/, "");
  const parts = bare.split("/");
  if (bare.startsWith("@")) return parts.slice(0, 2).join("/");
  // `fs/promises` and `timers/promises` are modules of their own.
  return IO_MODULES.has(bare) ? bare : (parts[0] ?? bare);
}

function describeEdge(edge: ImportEdge): string {
  const kind = edge.dynamic ? "dynamic import" : edge.typeOnly ? "type import" : "import";
  const where = edge.target && edge.target !== edge.specifier ? ` (${edge.target})` : "";
  return `${edge.file}:${edge.line}: ${kind} "${edge.specifier}"${where}`;
}

/** Every rule applied to one import; returns the broken rules' descriptions. */
function importViolations(edge: ImportEdge): string[] {
  const from = layerOf(edge.file);
  if (!from || isException(edge)) return [];
  const problems: string[] = [];
  const say = (rule: string) => problems.push(`${describeEdge(edge)} breaks: ${rule}`);

  if (edge.target === undefined) {
    const name = packageName(edge.specifier);
    if (PURE_LAYERS.includes(from) && IO_MODULES.has(name)) {
      say(`src/${from}/ is pure: no I/O or timer module ("${name}")`);
    }
    const pureDir = pureDirOf(edge.file);
    if (pureDir !== undefined && IO_MODULES.has(name)) {
      say(`${pureDir} is pure: no I/O or timer module ("${name}")`);
    }
    if ((name === "node-hid" || name === "usb") && from !== "transport" && from !== "native-mocks") {
      say(`"${name}" is reached only through src/transport/'s backend factory`);
    }
    if (name === "winston" && from !== "log") {
      say("log through layerLogger() from src/log.ts, not winston directly");
    }
    return problems;
  }

  if (!existsSync(join(ROOT, edge.target))) say("a relative import must resolve to a file of the repository");
  const pureDir = pureDirOf(edge.file);
  if (
    pureDir !== undefined &&
    !edge.target.startsWith(pureDir) &&
    !PURE_TARGETS.some((target) => edge.target?.startsWith(target))
  ) {
    say(`${pureDir} is pure: it imports only its own folder, src/protocol/, src/reconcile/ and src/errors.ts`);
  }
  const to = layerOf(edge.target);
  if (to === undefined) {
    say(`${from} may import only project files under src/ or native-mocks/`);
    return problems;
  }
  if (to === from) return problems;

  if (!ALLOWED[from].includes(to)) {
    const allowed = ALLOWED[from].length > 0 ? ALLOWED[from].join(", ") : "nothing else of the project";
    say(`layer "${from}" may import only ${allowed}; not "${to}"`);
    return problems;
  }
  if (to === "bridge" && from === "server" && !BRIDGE_FACADE.has(edge.target)) {
    say("src/server/ uses the bridge only through src/bridge/api.ts (Bridge) and src/bridge/index.ts (openBridge)");
  }
  if (to === "bridge" && from === "cli" && !(edge.typeOnly && edge.target === "src/bridge/api.ts")) {
    say(
      "src/cli/ talks to the daemon through the HTTP API; it may name the API's shapes (import type from src/bridge/api.ts) only",
    );
  }
  return problems;
}

/** Files the CLI loads at start (static, non-type imports), so `keybridge status` never opens a bridge. */
function staticClosure(start: string, byFile: ReadonlyMap<string, ParsedFile>): Map<string, string[]> {
  const via = new Map<string, string[]>([[start, [start]]]);
  const queue = [start];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const edge of byFile.get(file)?.imports ?? []) {
      if (edge.typeOnly || edge.dynamic || !edge.target || via.has(edge.target)) continue;
      via.set(edge.target, [...(via.get(file) ?? []), edge.target]);
      queue.push(edge.target);
    }
  }
  return via;
}

function cliClosureViolations(byFile: ReadonlyMap<string, ParsedFile>): string[] {
  const problems: string[] = [];
  for (const file of byFile.keys()) {
    if (layerOf(file) !== "cli") continue;
    for (const [reached, path] of staticClosure(file, byFile)) {
      const layer = layerOf(reached);
      if (layer === "bridge" || (layer !== undefined && BELOW_BRIDGE.includes(layer) && !PURE_LAYERS.includes(layer))) {
        problems.push(
          `${file} loads ${reached} at start (${path.join(" → ")}) breaks: src/cli/ reaches the bridge only ` +
            "through the HTTP API; `serve` loads the daemon with a dynamic import",
        );
      }
    }
  }
  return problems;
}

function textViolations(parsed: ParsedFile): string[] {
  const layer = layerOf(parsed.file);
  const problems: string[] = [];
  const lines = parsed.code.split("\n");
  lines.forEach((line, index) => {
    const at = `${parsed.file}:${index + 1}`;
    if (parsed.file.startsWith("src/") && layer !== "cli" && /\bconsole\s*\.\s*log\b/.test(line)) {
      problems.push(`${at}: console.log breaks: log through layerLogger(); only src/cli/ prints to the console`);
    }
    if (isPureFile(parsed.file) && TIMER_CALL.test(line)) {
      const where = pureDirOf(parsed.file) ?? `src/${layer}/`;
      problems.push(`${at}: ${TIMER_CALL.exec(line)?.[1]}() breaks: ${where} is pure: no timers`);
    }
    if (isPureFile(parsed.file) && CLOCK_CALL.test(line)) {
      const where = pureDirOf(parsed.file) ?? `src/${layer}/`;
      problems.push(`${at}: reading the clock breaks: ${where} is pure: take the time as an argument`);
    }
  });
  return problems;
}

function listTsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return listTsFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/**
 * The import cycles among the files of `src/`, one path per strongly connected group
 * (`a → b → … → a`). Every import counts, type-only and dynamic ones too: two files that name each
 * other cannot be understood, moved or tested one without the other, whatever the compiler erases.
 */
function importCycles(byFile: ReadonlyMap<string, ParsedFile>): string[][] {
  const edges = new Map<string, string[]>();
  for (const [file, parsed] of byFile) {
    if (!file.startsWith("src/")) continue;
    const targets = parsed.imports
      .map((edge) => edge.target)
      .filter((t): t is string => t?.startsWith("src/") === true);
    edges.set(
      file,
      [...new Set(targets)].filter((target) => byFile.has(target)),
    );
  }
  // Tarjan's strongly connected components.
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (file: string): void => {
    order.set(file, order.size);
    low.set(file, order.get(file) as number);
    stack.push(file);
    onStack.add(file);
    for (const next of edges.get(file) ?? []) {
      if (!order.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file) as number, order.get(next) as number));
      }
    }
    if (low.get(file) !== order.get(file)) return;
    const group: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      onStack.delete(member);
      group.push(member);
      if (member === file) break;
    }
    if (group.length > 1 || (edges.get(file) ?? []).includes(file)) groups.push(group);
  };
  for (const file of [...edges.keys()].sort()) if (!order.has(file)) visit(file);
  return groups.map((group) => cyclePath(group.sort(), edges));
}

/** A path from the group's first file back to it, through the group (breadth first: the shortest). */
function cyclePath(group: readonly string[], edges: ReadonlyMap<string, string[]>): string[] {
  const start = group[0] as string;
  const members = new Set(group);
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const next of edges.get(file) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [file];
        for (let back = cameFrom.get(file); back !== undefined; back = cameFrom.get(back)) path.unshift(back);
        return [...path, start];
      }
      if (!cameFrom.has(next) && next !== start) {
        cameFrom.set(next, file);
        queue.push(next);
      }
    }
  }
  return [...group, start];
}

function scanProject(): Map<string, ParsedFile> {
  const files = [...listTsFiles("src"), ...listTsFiles("native-mocks")];
  return new Map(files.map((file) => [file, parseSource(file, readFileSync(join(ROOT, file), "utf8"))]));
}

describe("the import parser", () => {
  const sample = parseSource(
    "src/server/sample.ts",
    [
      'import { a } from "../bridge/api.js";',
      'import type { B } from "../bridge/api.js";',
      'import { type C, type D } from "./c.js";',
      'export { e } from "../key/index.js";',
      'export type { F } from "../ledger/index.js";',
      "// import { hidden } from './commented.js';",
      'const g = await import("../cli/main.js");',
      'type H = typeof import("../host/index.js");',
      'import "node:fs";',
      "console.log('x');",
    ].join("\n"),
  );

  it("finds static, re-export, dynamic and type-position imports, and tells type-only ones apart", () => {
    expect(sample.imports.map((e) => [e.specifier, e.typeOnly, e.dynamic, e.line])).toEqual([
      ["../bridge/api.js", false, false, 1],
      ["../bridge/api.js", true, false, 2],
      ["./c.js", true, false, 3],
      ["../key/index.js", false, false, 4],
      ["../ledger/index.js", true, false, 5],
      ["../cli/main.js", false, true, 7],
      ["../host/index.js", true, false, 8],
      ["node:fs", false, false, 9],
    ]);
  });

  it("resolves relative specifiers to repository files", () => {
    expect(sample.imports[0]?.target).toBe("src/bridge/api.ts");
    expect(sample.imports[3]?.target).toBe("src/key/index.ts");
  });

  it("reports a broken rule with the file, the import and the rule", () => {
    const problems = sample.imports.flatMap(importViolations);
    expect(problems).toContain(
      'src/server/sample.ts:4: import "../key/index.js" (src/key/index.ts) breaks: layer "server" may import only ' +
        'bridge, config, reconcile, protocol, vocabulary, errors, log, serial-queue; not "key"',
    );
    expect(problems.some((p) => p.startsWith('src/server/sample.ts:7: dynamic import "../cli/main.js"'))).toBe(true);
    expect(problems.filter((p) => p.includes("../bridge/api.js"))).toEqual([]);
  });

  it("flags I/O, timers and console.log in a pure layer but not in comments or strings", () => {
    const pure = parseSource(
      "src/protocol/sample.ts",
      [
        'import { readFileSync } from "node:fs";',
        'import { setTimeout as sleep } from "node:timers/promises";',
        "setTimeout(() => {}, 1);",
        "// setInterval(() => {}, 1); console.log('no')",
        'const s = "console.log(1)";',
        "console.log(s);",
      ].join("\n"),
    );
    expect(pure.imports.flatMap(importViolations)).toEqual([
      'src/protocol/sample.ts:1: import "node:fs" breaks: src/protocol/ is pure: no I/O or timer module ("fs")',
      'src/protocol/sample.ts:2: import "node:timers/promises" breaks: src/protocol/ is pure: no I/O or timer module ("timers/promises")',
    ]);
    expect(textViolations(pure)).toEqual([
      "src/protocol/sample.ts:3: setTimeout() breaks: src/protocol/ is pure: no timers",
      "src/protocol/sample.ts:6: console.log breaks: log through layerLogger(); only src/cli/ prints to the console",
    ]);
  });

  it("keeps a pure folder of an I/O layer pure: no I/O module, no clock, nothing of the layer outside it", () => {
    const pure = parseSource(
      "src/codemeter/model/sample.ts",
      [
        'import { readFile } from "node:fs/promises";',
        'import { createHash } from "node:crypto";',
        'import { PREFLIGHT_ACTIONS } from "../../reconcile/index.js";',
        'import { parseIni } from "./ini.js";',
        'import { CmuRunner } from "../sources/cmu.js";',
        "const now = Date.now();",
        "const then = new Date(now);",
      ].join("\n"),
    );
    const problems = pure.imports.flatMap(importViolations);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('src/codemeter/model/sample.ts:1: import "node:fs/promises"');
    expect(problems[0]).toContain("src/codemeter/model/ is pure");
    expect(problems[1]).toMatch(/^src\/codemeter\/model\/sample\.ts:5: .*imports only its own folder/);
    expect(textViolations(pure)).toEqual([
      "src/codemeter/model/sample.ts:6: reading the clock breaks: src/codemeter/model/ is pure: take the time as an argument",
    ]);
  });

  it("finds an import cycle, type-only imports included, and names its path", () => {
    const files = new Map(
      [
        ["src/a/one.ts", 'import { two } from "./two.js";\nimport { three } from "../b/three.js";'],
        ["src/a/two.ts", 'import type { One } from "./one.js";'],
        ["src/b/three.ts", "export const three = 3;"],
      ].map(([file, text]) => [file as string, parseSource(file as string, text as string)]),
    );
    for (const parsed of files.values()) {
      for (const edge of parsed.imports)
        edge.target = join(dirname(parsed.file), edge.specifier).replace(/\.js$/, ".ts");
    }
    expect(importCycles(files)).toEqual([["src/a/one.ts", "src/a/two.ts", "src/a/one.ts"]]);
    files.delete("src/a/two.ts");
    expect(importCycles(files)).toEqual([]);
  });

  it("lets the CLI name the API's shapes but not open a bridge", () => {
    const cli = parseSource(
      "src/cli/sample.ts",
      ['import type { BorrowView } from "../bridge/api.js";', 'import { openBridge } from "../bridge/index.js";'].join(
        "\n",
      ),
    );
    const problems = cli.imports.flatMap(importViolations);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^src\/cli\/sample\.ts:2: import "\.\.\/bridge\/index\.js".*HTTP API/);
  });
});

describe("the layer rules", () => {
  const project = scanProject();
  const parsed = [...project.values()];

  it("reads the whole source tree", () => {
    const layers = new Set(parsed.map((p) => layerOf(p.file)));
    for (const layer of [
      "protocol",
      "vocabulary",
      "transport",
      "key",
      "registry",
      "codemeter",
      "bridge",
      "server",
      "cli",
      "native-mocks",
    ]) {
      expect(layers, `no .ts file found for layer ${layer}`).toContain(layer);
    }
    expect(project.get("src/server/app.ts")?.imports.map((e) => e.target)).toContain("src/bridge/api.ts");
  });

  it("every import points down, to a layer the importing layer may use", () => {
    expect(parsed.flatMap((p) => p.imports.flatMap(importViolations))).toEqual([]);
  });

  it("src/ has no import cycle", () => {
    expect(importCycles(project).map((cycle) => cycle.join(" → "))).toEqual([]);
  });

  it("the CLI does not load the bridge or an I/O layer at start", () => {
    expect(cliClosureViolations(project)).toEqual([]);
  });

  it("the pure layers start no timers, and only the CLI uses console.log", () => {
    expect(parsed.flatMap(textViolations)).toEqual([]);
  });

  it("each pure folder exists and holds source files", () => {
    for (const dir of PURE_DIRS) {
      expect(
        parsed.some((p) => p.file.startsWith(dir)),
        `no .ts file under ${dir}`,
      ).toBe(true);
    }
  });

  it("each exception still names an import that exists", () => {
    for (const exception of EXCEPTIONS) {
      const targets = project.get(exception.from)?.imports.map((e) => e.target ?? packageName(e.specifier)) ?? [];
      expect(targets, `stale exception: ${exception.from} → ${exception.target} (${exception.why})`).toContain(
        exception.target,
      );
    }
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import {
  BORROW_STATES,
  borrowKey,
  DAY_MS,
  DEFAULT_SETTLE_WINDOW_MS,
  isOutstanding,
  MAX_CLIENT_BYTES,
  OUTSTANDING_STATES,
} from "../../../src/vocabulary/index.js";

/**
 * The words every layer uses are defined once (src/vocabulary/, or src/protocol/ for the units
 * the key firmware needs too). These checks read the source of src/ and native-mocks/, so a
 * second definition, an inline borrow key or a re-spelled outstanding set fails here by name.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function listTsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return listTsFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

const SOURCES = [...listTsFiles("src"), ...listTsFiles("native-mocks")].map((file) => ({
  file,
  source: ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.ES2022, true),
}));

type Space = "type" | "value";

/** Top-level declarations of a file by name and space (a class or enum is both). */
function declarations(source: ts.SourceFile): { name: string; space: Space }[] {
  const found: { name: string; space: Space }[] = [];
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations) {
        if (ts.isIdentifier(d.name)) found.push({ name: d.name.text, space: "value" });
      }
    } else if (ts.isFunctionDeclaration(statement) && statement.name) {
      found.push({ name: statement.name.text, space: "value" });
    } else if ((ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) && statement.name) {
      found.push({ name: statement.name.text, space: "type" });
    } else if ((ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)) && statement.name) {
      found.push({ name: statement.name.text, space: "type" }, { name: statement.name.text, space: "value" });
    }
  }
  return found;
}

/** The shared words and the one file each is defined in. */
const DEFINED_ONCE: { name: string; space: Space; home: string }[] = [
  { name: "BORROW_STATES", space: "value", home: "src/vocabulary/borrow.ts" },
  { name: "BorrowState", space: "type", home: "src/vocabulary/borrow.ts" },
  { name: "OUTSTANDING_STATES", space: "value", home: "src/vocabulary/borrow.ts" },
  { name: "isOutstanding", space: "value", home: "src/vocabulary/borrow.ts" },
  { name: "borrowKey", space: "value", home: "src/vocabulary/borrow.ts" },
  { name: "LedgerBorrow", space: "type", home: "src/vocabulary/borrow.ts" },
  { name: "Severity", space: "type", home: "src/vocabulary/severity.ts" },
  { name: "SEVERITY_RANK", space: "value", home: "src/vocabulary/severity.ts" },
  // The key firmware may import only the protocol, so the protocol owns the units both sides use.
  { name: "DAY_MS", space: "value", home: "src/protocol/constants.ts" },
  { name: "DEFAULT_SETTLE_WINDOW_MS", space: "value", home: "src/protocol/constants.ts" },
  { name: "MAX_CLIENT_BYTES", space: "value", home: "src/protocol/constants.ts" },
  { name: "FoundDevice", space: "type", home: "src/cli/doctor/local-diagnostics.ts" },
];

function definitionsOf(name: string, space: Space): string[] {
  return SOURCES.filter(({ source }) => declarations(source).some((d) => d.name === name && d.space === space)).map(
    ({ file }) => file,
  );
}

/** `${…serial}/${…id}` and the like: a template that is nothing but a serial, a separator and an id. */
function inlineBorrowKeys(source: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isTemplateExpression(node) && node.head.text === "" && node.templateSpans.length === 2) {
      const [first, second] = node.templateSpans as unknown as [ts.TemplateSpan, ts.TemplateSpan];
      const separatorOnly = first.literal.text.length <= 2 && second.literal.text === "";
      if (
        separatorOnly &&
        /serial\)?$/i.test(first.expression.getText(source)) &&
        /(^|\.)(id|borrowId)$/i.test(second.expression.getText(source))
      ) {
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        found.push(`${source.fileName}:${line}: ${node.getText(source)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Array literals, or SQL lists, that spell out exactly the outstanding states. */
function outstandingSets(source: ts.SourceFile): string[] {
  const wanted = [...OUTSTANDING_STATES].sort().join(",");
  const found: string[] = [];
  const at = (node: ts.Node) =>
    `${source.fileName}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (ts.isArrayLiteralExpression(node) && node.elements.every(ts.isStringLiteral)) {
      const states = node.elements.map((e) => (e as ts.StringLiteral).text);
      if (states.sort().join(",") === wanted) found.push(`${at(node)}: ${node.getText(source)}`);
    }
    if (ts.isStringLiteralLike(node)) {
      const quoted = [...node.text.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]);
      if (quoted.length > 0 && quoted.sort().join(",") === wanted) found.push(`${at(node)}: ${node.getText(source)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("one vocabulary", () => {
  it.each(DEFINED_ONCE)("$name is defined once, in $home", ({ name, space, home }) => {
    expect(definitionsOf(name, space)).toEqual([home]);
  });

  it("no borrow key is built inline: borrowKey() names a borrow everywhere", () => {
    const elsewhere = SOURCES.filter(({ file }) => file !== "src/vocabulary/borrow.ts");
    expect(elsewhere.flatMap(({ source }) => inlineBorrowKeys(source))).toEqual([]);
  });

  it("the outstanding states are spelled out only in the vocabulary", () => {
    expect(
      SOURCES.filter(({ file }) => file !== "src/vocabulary/borrow.ts").flatMap(({ source }) =>
        outstandingSets(source),
      ),
    ).toEqual([]);
  });

  it("the source checks above see what they look for", () => {
    const sample = ts.createSourceFile(
      "sample.ts",
      [
        "export const DAY_MS = 1;",
        "export type Severity = string;",
        "const k = `@{row.serial}/@{row.id}`;",
        "const m = `borrow @{row.serial}/@{row.id} is gone`;",
        "const z = `@{serial}\\u0000@{id}`;",
        'const s = ["dummy", "active", "returning"];',
        "const q = \"'active', 'returning', 'dummy'\";",
        'const all = ["active", "returning", "returned", "dummy"];',
      ]
        .join("\n")
        // "@{" stands for a template's "$" + "{", which a plain string may not hold.
        .replaceAll("@{", "$" + "{"),
      ts.ScriptTarget.ES2022,
      true,
    );
    expect(declarations(sample).map((d) => `${d.space}:${d.name}`)).toEqual(
      expect.arrayContaining(["value:DAY_MS", "type:Severity"]),
    );
    expect(inlineBorrowKeys(sample).map((s) => s.split(":")[1])).toEqual(["3", "5"]);
    expect(outstandingSets(sample).map((s) => s.split(":")[1])).toEqual(["6", "7"]);
  });
});

describe("the vocabulary's words", () => {
  it("borrowKey gives two borrows the same key only when serial and id are equal", () => {
    const borrow = fc.record({ serial: fc.string({ maxLength: 8 }), id: fc.nat() });
    fc.assert(
      fc.property(borrow, borrow, (a, b) => {
        const same = a.serial === b.serial && a.id === b.id;
        expect(borrowKey(a.serial, a.id) === borrowKey(b.serial, b.id)).toBe(same);
      }),
    );
  });

  it("a borrow is outstanding while it holds something on the key", () => {
    expect(BORROW_STATES.filter(isOutstanding)).toEqual(["active", "returning", "dummy"]);
  });

  it("keeps the protocol's units", () => {
    expect(DAY_MS).toBe(24 * 60 * 60 * 1000);
    expect(DEFAULT_SETTLE_WINDOW_MS).toBe(DAY_MS);
    expect(MAX_CLIENT_BYTES).toBe(64);
  });
});

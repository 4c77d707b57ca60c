import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT } from "./markdown.js";

/**
 * The project explains itself: no page, comment or test sends the reader to a document the
 * repository does not contain (a design brief, a facts sheet, a problem report kept elsewhere).
 * Decisions are explained in docs/design-decisions.md and the layer pages; the key model's rules
 * are stated in src/protocol/PROTOCOL.md.
 */
const OUTSIDE_DOCUMENTS: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\bDESIGN\.md\b/, what: "a design document the project does not contain" },
  { pattern: /\b(?:DOMAIN|CODEMETER)-FACTS\b/, what: "a facts sheet the project does not contain" },
  { pattern: /\.\.\/shared\/|\/work\/shared\b/, what: "a path outside the repository" },
  {
    pattern: /\bdesign (?:brief|card)\b|\bthe brief\b|\bbrief's\b/i,
    what: "a design brief the project does not contain",
  },
  { pattern: /\bseed's\b|\bthe seed\b(?! is printed)/i, what: "a problem report the project does not contain" },
];

const SCANNED = [
  "README.md",
  "CONTRIBUTING.md",
  "package.json",
  ".ci",
  "docs",
  "src",
  "test",
  "native-mocks",
  "udev",
  "systemd",
  "prometheus",
];
const THIS_FILE = relative(ROOT, fileURLToPath(import.meta.url));

function* files(path: string): Generator<string> {
  const full = join(ROOT, path);
  if (statSync(full).isDirectory()) {
    for (const name of readdirSync(full).sort()) yield* files(join(path, name));
  } else {
    yield path;
  }
}

describe("the project never cites a document it does not contain", () => {
  it("no file of README, CONTRIBUTING, docs/, src/, test/, native-mocks/, udev/, systemd/, prometheus/ or .ci/ does", () => {
    const citations: string[] = [];
    let scanned = 0;
    for (const path of SCANNED.flatMap((top) => [...files(top)])) {
      if (path === THIS_FILE) continue;
      const text = readFileSync(join(ROOT, path), "utf8");
      if (text.includes("\u0000")) continue;
      scanned++;
      text.split("\n").forEach((line, index) => {
        for (const { pattern, what } of OUTSIDE_DOCUMENTS) {
          const match = pattern.exec(line);
          if (match) citations.push(`${path}:${index + 1}: "${match[0]}" cites ${what}`);
        }
      });
    }
    expect(scanned).toBeGreaterThan(300);
    expect(citations).toEqual([]);
  });
});

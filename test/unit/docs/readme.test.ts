import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SCENARIO_IDS } from "../../scenarios/scenario-ids.js";
import { anchors, ROOT, readPage, tableRows, withoutCodeBlocks } from "./markdown.js";

/** The README is the entrance; everything else lives in docs/. */
const README_LIMIT_BYTES = 12 * 1024;

const readme = readPage("README.md");
const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

describe("README.md, the entrance", () => {
  it(`is at most ${README_LIMIT_BYTES} bytes`, () => {
    expect(Buffer.byteLength(readme, "utf8")).toBeLessThanOrEqual(README_LIMIT_BYTES);
  });

  it("has the entrance's sections: the problem, quick start, a tour of CLI, API, library and dashboard, install, testing", () => {
    const headings = anchors(readme);
    for (const section of ["quick-start", "the-problem", "a-short-tour", "install", "testing", "dependencies"]) {
      expect(headings, section).toContain(section);
    }
    const tour = readme.slice(readme.indexOf("## A short tour"), readme.indexOf("## Install"));
    for (const part of ["**CLI**", "**HTTP API**", "**Library**", "**Dashboard**"]) expect(tour).toContain(part);
  });

  it("opens with the two commands, and they are the ones package.json and CI run", () => {
    const quickStart = readme.slice(readme.indexOf("## Quick start"));
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(quickStart)?.[1] ?? "";
    const commands = firstBlock.split("\n").map((line) => line.replace(/#.*$/, "").trim());
    expect(commands).toContain("npm ci && npm start");
    expect(commands).toContain("npm test");

    // npm start runs keybridge on its virtual key, from a fresh checkout (it builds first).
    expect(packageJson.scripts.start).toMatch(/^npm run build && node dist\/src\/cli\/main\.js serve --virtual$/);
    // CI runs exactly what the README tells a contributor to run.
    const ci = readFileSync(join(ROOT, ".ci/run"), "utf8").trim().split("\n");
    expect(ci.slice(-2)).toEqual(["npm ci", "npm test"]);
  });

  it("says why each dependency is there, and docs/dependencies.md says more", () => {
    const named = (text: string) => new Set([...text.matchAll(/`([@a-z0-9/.-]+)`/g)].map((match) => match[1]));
    const inReadme = named(readme.slice(readme.indexOf("## Dependencies")));
    const inPage = named(readPage("docs/dependencies.md"));
    const all = Object.keys({
      ...packageJson.dependencies,
      ...packageJson.optionalDependencies,
      ...packageJson.devDependencies,
    });
    expect(all.filter((name) => !inReadme.has(name))).toEqual([]);
    expect(all.filter((name) => !inPage.has(name))).toEqual([]);
  });
});

describe("the README's scenarios table", () => {
  const numbers = (cells: readonly string[]) => cells.map((cell) => cell.replace(/\*\*/g, ""));
  const short = tableRows(withoutCodeBlocks(readme), "scenario");
  /** docs/scenarios.md's table, which `npm run scenarios` prints and test/scenarios checks against the run. */
  const full = tableRows(withoutCodeBlocks(readPage("docs/scenarios.md")), "scenario").filter((row) => row.length > 6);

  it("has one row per scenario, in order, and the totals", () => {
    expect(short.map((row) => row[0])).toEqual([...SCENARIO_IDS, "**total**"]);
  });

  it("shows the dummies and seats blocked of docs/scenarios.md, for the naive server and keybridge", () => {
    expect(full).toHaveLength(SCENARIO_IDS.length + 1);
    const fromFull = full.map((row) => {
      const [scenario, naiveDummies, naiveSeats, _naiveDays, kbDummies, kbSeats] = row;
      const id = scenario === "**total**" ? "**total**" : scenario!.split(":")[0];
      return [id, ...numbers([naiveDummies!, naiveSeats!, kbDummies!, kbSeats!])];
    });
    expect(short.map((row) => [row[0], ...numbers(row.slice(1))])).toEqual(fromFull);
  });
});

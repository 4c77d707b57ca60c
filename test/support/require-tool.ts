import { existsSync } from "node:fs";
import { describe, it, type TestContext } from "vitest";
import { missingToolError, toolMissing, toolsRequired } from "./tools.mjs";

/**
 * Something a test needs from the machine rather than from the project: a system tool, or the
 * build in dist/. Without KEYBRIDGE_REQUIRE_TOOLS=1 a test whose need is missing is skipped, and
 * says why in its name and on stderr; with it (CI, `.ci/run`) the test fails with that reason.
 */
export class Requirement {
  private constructor(
    /** What is needed, as a reader would look for it: "promtool", "the build (dist/)". */
    readonly name: string,
    /** Why it is missing here; undefined when it is present. */
    readonly missing: string | undefined,
  ) {}

  /** A system tool: an absolute path, or a command on the PATH probed with `probeArgs`. */
  static tool(tool: string, probeArgs?: string[]): Requirement {
    return new Requirement(tool, toolMissing(tool, probeArgs));
  }

  /** A file of the build (`npm run build`), for tests that run the built daemon or a worker. */
  static build(file: string): Requirement {
    return new Requirement(
      "the build (dist/)",
      existsSync(file) ? undefined : `run \`npm run build\` first (${file} is missing)`,
    );
  }

  /** Anything else a test needs from the machine, with the reason it is missing (or undefined). */
  static of(name: string, missing: string | undefined): Requirement {
    return new Requirement(name, missing);
  }

  /** True when the tests that need it will be skipped here. */
  get skipped(): boolean {
    return this.missing !== undefined && !toolsRequired();
  }

  /** For a test's name: " (skipped: <reason>)" when it will be skipped, else "". */
  get skipNote(): string {
    return this.skipped ? ` (skipped: ${this.missing})` : "";
  }

  /** At the start of a test: skips it when the need is missing, or fails it under KEYBRIDGE_REQUIRE_TOOLS=1. */
  check(ctx: TestContext): void {
    if (this.missing === undefined) return;
    if (toolsRequired()) throw missingToolError(ctx.task.name, this.missing);
    const title = ctx.task.name.includes(this.missing) ? ctx.task.name : `${ctx.task.name}: ${this.missing}`;
    process.stderr.write(`skipped: ${title}\n`);
    ctx.skip(this.missing);
  }
}

/**
 * A `describe` whose tests all need `requirements`: skipped as a whole (its name says why) when one
 * is missing, or, under KEYBRIDGE_REQUIRE_TOOLS=1, one failing test that names what is missing.
 */
export function describeNeeding(requirements: Requirement | Requirement[], title: string, body: () => void): void {
  const missing = [requirements].flat().find((r) => r.missing !== undefined);
  if (missing?.missing === undefined) {
    describe(title, body);
  } else if (toolsRequired()) {
    describe(title, () => {
      it(`needs ${missing.name}`, () => {
        throw missingToolError(title, missing.missing as string);
      });
    });
  } else {
    process.stderr.write(`skipped: ${title}: ${missing.missing}\n`);
    describe.skip(`${title} (skipped: ${missing.missing})`, body);
  }
}

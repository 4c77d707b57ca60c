import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/**
 * A missing tool skips a test visibly on a contributor's machine and fails it in CI. Each case runs
 * vitest on a small test file in a child process, with and without KEYBRIDGE_REQUIRE_TOOLS=1.
 */
const dir = mkdtempSync(join(resolve("test/support"), ".require-tool-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SAMPLE = `
import { expect, it } from "vitest";
import { describeNeeding, Requirement } from "../require-tool.js";

const present = Requirement.tool(process.execPath);
const absent = Requirement.tool("/nonexistent/keybridge-tool");

it(\`uses a present tool\${present.skipNote}\`, (ctx) => {
  present.check(ctx);
  expect(present.missing).toBeUndefined();
});

it(\`uses an absent tool\${absent.skipNote}\`, (ctx) => {
  absent.check(ctx);
  expect.unreachable("the test went on without its tool");
});

describeNeeding(absent, "a group that needs the absent tool", () => {
  it("runs", () => expect.unreachable("the group ran without its tool"));
});
`;

function runSample(env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  writeFileSync(join(dir, "sample.test.ts"), SAMPLE);
  writeFileSync(join(dir, "vitest.config.mjs"), 'export default { test: { include: ["sample.test.ts"] } };\n');
  const result = spawnSync(
    process.execPath,
    [resolve("node_modules/vitest/vitest.mjs"), "run", "--config", "vitest.config.mjs", "--reporter=verbose"],
    { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 120_000 },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("a test whose tool is missing", () => {
  it("is skipped, and says why, without KEYBRIDGE_REQUIRE_TOOLS", () => {
    const { status, output } = runSample({ KEYBRIDGE_REQUIRE_TOOLS: "" });
    expect(output).toContain("uses an absent tool (skipped: /nonexistent/keybridge-tool is not installed)");
    expect(output).toContain(
      "a group that needs the absent tool (skipped: /nonexistent/keybridge-tool is not installed)",
    );
    expect(output).toMatch(/1 passed \| 2 skipped/);
    expect(status).toBe(0);
  });

  it("fails, naming the tool, under KEYBRIDGE_REQUIRE_TOOLS=1", () => {
    const { status, output } = runSample({ KEYBRIDGE_REQUIRE_TOOLS: "1" });
    expect(output).toContain("uses an absent tool cannot run: /nonexistent/keybridge-tool is not installed");
    expect(output).toContain("needs /nonexistent/keybridge-tool");
    expect(output).toMatch(/2 failed \| 1 passed/);
    expect(status).toBe(1);
  });
});

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeNeeding, Requirement } from "../../support/require-tool.js";
import { type CliHarness, startCli } from "../../unit/cli/cli-harness.js";

const bin = resolve("dist/src/cli/main.js");
const build = Requirement.build(bin);

function keybridge(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => done({ code, stdout, stderr }));
  });
}

describeNeeding(build, "the keybridge bin, spawned", () => {
  let h: CliHarness;
  beforeAll(async () => {
    h = await startCli();
  });
  afterAll(async () => {
    await h.close();
  });

  it("exit codes 0, 3, 2 and 1 as a script sees them", async () => {
    const dir = ["--data-dir", h.dataDir];
    const borrow = await keybridge(["borrow", "1001", "--client", "spawned", ...dir, "--json"]);
    expect(borrow.code, borrow.stderr).toBe(0);
    expect(JSON.parse(borrow.stdout)).toMatchObject({ client: "spawned", state: "active" });
    const unsafe = await keybridge(["--json", ...dir, "preflight", "unplug-key"]);
    expect(unsafe.code).toBe(3);
    expect(JSON.parse(unsafe.stdout)).toMatchObject({ action: "unplug-key", safe: false });
    expect((await keybridge(["preflight", "dance", ...dir])).code).toBe(2);
    const down = await keybridge(["status", "--url", "http://127.0.0.1:9", ...dir]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /keybridge daemon is not running at http:\/\/127\.0\.0\.1:9 — start it with `keybridge serve`/,
    );
  });

  it("doctor, run from the build, names the shipped udev rules file that exists", async () => {
    const run = await keybridge(["doctor", "--json", "--data-dir", h.dataDir]);
    const report = JSON.parse(run.stdout) as { checks: { id: string; status: string; fix?: string }[] };
    const udev = report.checks.find((check) => check.id === "udev-rules");
    expect(udev).toBeDefined();
    const shipped = /install -m 0644 (\S+) /.exec(udev?.fix ?? "")?.[1];
    if (udev?.status === "fail") {
      expect(shipped).toBe(resolve("udev/70-keybridge.rules"));
      expect(existsSync(shipped!)).toBe(true);
    }
  });

  it("starts with the shebang so it runs as an executable", async () => {
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });
});

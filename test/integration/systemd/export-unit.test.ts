import { spawn, spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeNeeding, Requirement } from "../../support/require-tool.js";
import { type CliHarness, startCli } from "../../unit/cli/cli-harness.js";

const SERVICE_PATH = fileURLToPath(new URL("../../../systemd/keybridge-export.service", import.meta.url));
const TIMER_PATH = fileURLToPath(new URL("../../../systemd/keybridge-export.timer", import.meta.url));
const MAIN_UNIT_PATH = fileURLToPath(new URL("../../../systemd/keybridge.service", import.meta.url));
const service = readFileSync(SERVICE_PATH, "utf8");
const ANALYZE = "/usr/bin/systemd-analyze";
const analyzeNeeded = Requirement.tool(ANALYZE);
const bin = resolve("dist/src/cli/main.js");
const build = Requirement.build(bin);

/** Runs a command without blocking this process (the daemon the command talks to runs in it). */
function runAsync(command: string, args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { env: { PATH: process.env.PATH }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("exit", (status) => done({ status, stderr }));
  });
}

/** The value of `Key=` in the unit, with systemd's escapes undone ("$$" → "$", "%%" → "%"). */
function directive(key: string): string {
  const line = new RegExp(`^${key}=(.*)$`, "m").exec(service)?.[1];
  if (line === undefined) throw new Error(`${key}= is missing from keybridge-export.service`);
  return line.replaceAll("$$", "$").replaceAll("%%", "%");
}

describe("systemd/keybridge-export.service and .timer", () => {
  it(`pass systemd-analyze verify${analyzeNeeded.skipNote}`, (ctx) => {
    analyzeNeeded.check(ctx);
    const dir = mkdtempSync(join(tmpdir(), "keybridge-export-unit-"));
    try {
      writeFileSync(join(dir, "keybridge-export.service"), service);
      writeFileSync(join(dir, "keybridge-export.timer"), readFileSync(TIMER_PATH, "utf8"));
      const main = readFileSync(MAIN_UNIT_PATH, "utf8").replace(
        /^ExecStart=\/usr\/bin\/keybridge /m,
        "ExecStart=/usr/bin/env ",
      );
      writeFileSync(join(dir, "keybridge.service"), main);
      const result = spawnSync(
        ANALYZE,
        ["verify", join(dir, "keybridge-export.service"), join(dir, "keybridge-export.timer")],
        { encoding: "utf8" },
      );
      const problems = `${result.stdout}${result.stderr}`.split("\n").filter((line) => line.includes(dir));
      expect({ status: result.status, problems }).toEqual({ status: 0, problems: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs as the keybridge user, once a day, catching up a day missed while the machine was off", () => {
    expect(service).toMatch(/^User=keybridge$/m);
    expect(service).toMatch(/^StateDirectory=keybridge\/exports$/m);
    const timer = readFileSync(TIMER_PATH, "utf8");
    expect(timer).toMatch(/^OnCalendar=daily$/m);
    expect(timer).toMatch(/^Persistent=true$/m);
    expect(timer).toMatch(/^WantedBy=timers.target$/m);
  });

  describeNeeding(build, "its commands, run against a daemon", () => {
    let h: CliHarness;
    let exports: string;
    beforeAll(async () => {
      h = await startCli();
      exports = join(h.dataDir, "exports");
      mkdirSync(exports);
    });
    afterAll(async () => {
      await h.close();
    });

    /** The unit's command with the installed paths replaced by this checkout's and the test's. */
    const local = (command: string) =>
      command
        .replaceAll("/usr/bin/keybridge", `${process.execPath} ${bin}`)
        .replaceAll("/var/lib/keybridge/exports", exports)
        .replaceAll("/var/lib/keybridge", h.dataDir);

    it("ExecStart writes today's export (0600); ExecStartPost removes the ones older than the days to keep", async () => {
      const start = local(directive("ExecStart"));
      expect(start.startsWith("/bin/sh -c '")).toBe(true);
      const script = start.slice("/bin/sh -c '".length, -1);
      const run = await runAsync("/bin/sh", ["-c", script]);
      expect(run.status, run.stderr).toBe(0);
      const today = new Date().toISOString().slice(0, 10).replaceAll("-", "");
      const file = join(exports, `ledger-${today}.export`);
      expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ format: "keybridge-ledger-export" });
      expect(statSync(file).mode & 0o777).toBe(0o600);

      const old = join(exports, "ledger-20200101.export");
      writeFileSync(old, "{}");
      const longAgo = new Date(Date.now() - 30 * 86_400_000);
      utimesSync(old, longAgo, longAgo);
      const [command, ...args] = local(directive("ExecStartPost"))
        .replace(/\$\{KEYBRIDGE_EXPORT_KEEP_DAYS\}/, "14")
        .split(" ");
      const prune = await runAsync(command!, args);
      expect(prune.status, prune.stderr).toBe(0);
      expect(readdirSync(exports)).toEqual([`ledger-${today}.export`]);
    });
  });
});

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CliHarness, runCli, startCli } from "./cli-harness.js";

let h: CliHarness;
beforeEach(async () => {
  h = await startCli();
});
afterEach(async () => {
  await h.close();
});

interface Report {
  ok: boolean;
  checks: { id: string; title: string; status: string; detail: string; fix?: string }[];
}

const IDS = ["mode", "node", "native-modules", "config", "udev-rules", "group", "devices", "data-dir", "daemon"];
const statusOf = (report: Report, id: string) => report.checks.find((check) => check.id === id)?.status;
// What this machine really has: udev rules are installed on a provisioned license server, not in CI.
const rulesInstalled = ["/etc/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"].some((dir) =>
  existsSync(`${dir}/70-keybridge.rules`),
);

describe("keybridge doctor against a running daemon", () => {
  it("--json lists every check; exit code 1 exactly when one fails", async () => {
    const result = await h.cli("doctor", "--json");
    const report = result.json as Report;
    expect(report.checks.map((check) => check.id)).toEqual(IDS);
    for (const check of report.checks) {
      expect(["ok", "warn", "fail", "skip"]).toContain(check.status);
      expect(check.title).not.toBe("");
      expect(check.detail).not.toBe("");
      if (check.status === "warn" || check.status === "fail") expect(check.fix, check.id).toBeTruthy();
    }
    const anyFailed = report.checks.some((check) => check.status === "fail");
    expect(report.ok).toBe(!anyFailed);
    expect(result.code).toBe(anyFailed ? 1 : 0);

    expect(statusOf(report, "node")).toBe("ok");
    expect(statusOf(report, "daemon")).toBe("ok");
    expect(report.checks.find((check) => check.id === "daemon")?.detail).toContain(h.url);
    expect(statusOf(report, "data-dir")).toBe("ok");
    // No USB here: a key that is not plugged in must never read as fine.
    expect(statusOf(report, "devices")).not.toBe("ok");
    // The daemon here runs virtual keys (its daemon.json says so): USB access is not needed for them.
    expect(report.checks[0]?.detail).toMatch(/^virtual keys, says the daemon at http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/);
    if (process.platform === "linux" && !rulesInstalled) {
      const udev = report.checks.find((check) => check.id === "udev-rules");
      expect(udev?.status).toBe("warn");
      expect(udev?.detail).toContain("not needed for the virtual keys the daemon runs now; needed before real keys");
    }
  });

  it.skipIf(process.platform !== "linux" || rulesInstalled)(
    "for a daemon on real keys, missing udev rules fail and the mode says real",
    async () => {
      const info = join(h.dataDir, "daemon.json");
      writeFileSync(
        info,
        JSON.stringify({ pid: process.pid, url: h.url, started: new Date().toISOString(), mode: "real", version: "0" }),
      );
      const result = await h.cli("doctor", "--json");
      const report = result.json as Report;
      expect(report.checks[0]?.detail).toMatch(/^real keys over USB, says the daemon at/);
      expect(statusOf(report, "udev-rules")).toBe("fail");
      expect(result.code).toBe(1);
    },
  );

  it("prints one aligned line per check and a summary", async () => {
    const result = await h.cli("doctor");
    const lines = result.stdout.trimEnd().split("\n");
    const checkLines = lines.filter((line) => /^(ok|WARN|FAIL|skip)\s/.test(line));
    expect(checkLines).toHaveLength(IDS.length);
    const detailColumn = checkLines.map((line) => line.search(/(?<=^\S+\s+\S+\s+)\S/));
    expect(new Set(detailColumn).size).toBe(1);
    expect(lines.at(-1)).toMatch(/^(\d+ of 9 checks failed|No check failed)/);
    expect(result.code === 1).toBe(checkLines.some((line) => line.startsWith("FAIL")));
  });

  it("warns, not fails, when the daemon is not running", async () => {
    await h.server.close();
    const result = await h.cli("doctor", "--json");
    const daemon = (result.json as Report).checks.find((check) => check.id === "daemon");
    expect(daemon?.status).toBe("warn");
    expect(daemon?.fix).toMatch(/systemctl start keybridge/);
  });
});

describe("keybridge doctor with a broken setup", () => {
  it("reports an invalid configuration file as the config check's failure and still runs the rest", async () => {
    const file = join(h.dataDir, "bad.json");
    writeFileSync(file, '{"listen": 42}');
    const result = await h.cli("doctor", "--json", "--config", file);
    const report = result.json as Report;
    expect(result.code).toBe(1);
    expect(report.checks.map((check) => check.id)).toEqual(IDS);
    const config = report.checks.find((check) => check.id === "config");
    expect(config?.status).toBe("fail");
    expect(config?.detail).toMatch(/listen/);
    expect(statusOf(report, "daemon")).toBe("ok");
  });

  it("skips the daemon check, asking for sudo, when daemon.json cannot be read", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "kb-doctor-"));
    try {
      mkdirSync(join(dataDir, "daemon.json"));
      const result = await runCli(["doctor", "--json", "--data-dir", dataDir], { HOME: dataDir });
      const daemon = (result.json as Report).checks.find((check) => check.id === "daemon");
      expect(daemon?.status).toBe("skip");
      expect(daemon?.detail).toMatch(/cannot read .*daemon\.json.*sudo keybridge doctor/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

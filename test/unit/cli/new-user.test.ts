import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keyClocks, localTime } from "../../../src/cli/format.js";
import { borrowsText } from "../../../src/cli/render.js";
import { type CliHarness, runCli, startCli } from "./cli-harness.js";

let h: CliHarness;
beforeEach(async () => {
  h = await startCli();
});
afterEach(async () => {
  await h.close();
});

const DAY = 86_400_000;
const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d/;

describe("relative times are right and in one clock", () => {
  it("a 7-day borrow expires 'in 7 d', a 14-day one 'in 14 d', and the list says the same", async () => {
    const seven = await h.cli("borrow", "1001", "--client", "ws-1", "--days", "7");
    expect(seven.stdout).toMatch(/expires \d{4}-\d\d-\d\d \d\d:\d\d \(in 7 d\)\.$/m);
    const fourteen = await h.cli("borrow", "1001", "--client", "ws-2", "--days", "14");
    expect(fourteen.stdout).toMatch(/\(in 14 d\)\.$/m);
    const list = await h.cli("borrows");
    expect(list.stdout).toMatch(/^1 .*active .*\(in 7 d\)$/m);
    expect(list.stdout).toMatch(/^2 .*active .*\(in 14 d\)$/m);
  });

  it("a 14-day maintenance plan starts 'in 14 d', and its summary shows times as the tables do, no ISO", async () => {
    await h.cli("borrow", "1001", "--client", "ws-1", "--days", "30");
    const plan = await h.cli("maintenance", "plan", "14d", "--action", "reinstall-os");
    expect(plan.stdout).toMatch(/^Maintenance planned: from \d{4}-\d\d-\d\d \d\d:\d\d \(in 14 d\) until cancelled/);
    expect(plan.stdout).not.toMatch(ISO);
    const at = ((await h.cli("maintenance", "--json")).json as { plan: { at: string } }).plan.at;
    expect(plan.stdout).toContain(`1 borrow ends after ${localTime(at)}: ask for it back`);
    // --json keeps the API's ISO times.
    expect((await h.cli("maintenance", "--json")).stdout).toMatch(ISO);
  });

  it("borrow times are measured in their key's clock: after the key clock moved 29.5 d, a 30-day borrow has 12 h left", async () => {
    await h.cli("borrow", "1001", "--client", "ws-1", "--days", "30");
    await h.cli("virtual", "clock", "--advance", "708h");
    for (const args of [["borrows"], ["status"]]) {
      const { stdout } = await h.cli(...args);
      expect(stdout, args[0]).toMatch(/^1 .*active .*\(in 12 h\)$/m);
      expect(stdout, args[0]).not.toMatch(/\(in 30 d\)/);
    }
  });

  it("an expired borrow reads 'expired … ago' in its key's clock, not 'in 29 d' in the server's", () => {
    const issued = Date.now() - 31 * DAY;
    const borrow = {
      id: 1,
      source: "keybridge" as const,
      serial: "KB-1",
      product: 1001,
      client: "ws",
      issuedAt: new Date(issued).toISOString(),
      expiresAt: new Date(issued + 30 * DAY).toISOString(),
      state: "expired" as const,
    };
    // The key's clock is 2 days ahead of this machine's: in it, the borrow expired 3 days ago.
    const clocks = keyClocks([
      {
        serial: "KB-1",
        present: true,
        kind: "keybridge",
        licenses: [],
        keyTime: new Date(Date.now() + 2 * DAY).toISOString(),
      },
    ]);
    expect(borrowsText([borrow], clocks)).toMatch(/expired \d{4}-\d\d-\d\d \d\d:\d\d \(3 d ago\)$/m);
  });
});

describe("keybridge config says what it shows", () => {
  it("with a daemon running: the configuration, then the daemon's mode and address, and where they differ", async () => {
    const { stdout } = await h.cli("config");
    expect(stdout).toMatch(
      /^Configuration \(defaults, the file, the environment\): what `keybridge serve` starts with/,
    );
    expect(stdout).toMatch(/^mode\s+real\s+default$/m);
    expect(stdout).toMatch(
      new RegExp(
        `^Running daemon: ${h.url.replaceAll(".", "\\.")} \\(pid ${process.pid}, since .*\\), virtual mode$`,
        "m",
      ),
    );
    expect(stdout).toMatch(
      /^ {2}mode: the daemon runs virtual, the configuration above says real \(it was started with --virtual\)/m,
    );
    const json = (await h.cli("config", "--json")).json as {
      config: { mode: string };
      daemon: { mode: string; url: string };
    };
    expect(json.config.mode).toBe("real");
    expect(json.daemon).toMatchObject({ mode: "virtual", url: h.url, pid: process.pid });
  });

  it("without one: says none runs and why", async () => {
    writeFileSync(join(h.dataDir, "daemon.json"), "{}");
    const result = await runCli(["config", "--url", "http://127.0.0.1:9"], { HOME: h.dataDir }, h.dataDir);
    expect(result.stdout).toMatch(
      /^Running daemon: none \(keybridge daemon is not running at http:\/\/127\.0\.0\.1:9/m,
    );
    expect((await runCli(["config", "--json", "--url", "http://127.0.0.1:9"], {}, h.dataDir)).json).toMatchObject({
      daemon: null,
    });
  });
});

describe("exit codes: bad input is a usage error (2), whoever finds it", () => {
  it("--days 0 and --days 999 both exit 2 before anything is sent; a value only the daemon refuses exits 2 too", async () => {
    for (const days of ["0", "999"]) {
      const result = await h.cli("borrow", "1001", "--client", "ws", "--days", days);
      expect(result.code, days).toBe(2);
      expect(result.stderr).toContain("--days must be an integer from 1 to 365");
    }
    expect(await h.bridge.borrows()).toEqual([]);
    const tooBig = await h.cli("borrow", "99999999999", "--client", "ws");
    expect(tooBig.stderr).toContain("[VALIDATION]");
    expect(tooBig.code).toBe(2);
  });
});

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createNodeHidStandIn, createUsbStandIn, VirtualBus } from "../../../native-mocks/index.js";
import type { CaptureBundle } from "../../../src/codemeter/index.js";
import { virtualHidBackend } from "../../../src/transport/backend.js";
import { onCleanup, simWorld, snapshot, tempDir } from "../codemeter/helpers.js";
import { runCli } from "./cli-harness.js";

/**
 * `keybridge codemeter capture` over a SYNTHETIC simulated CodeMeter installation: Server.ini,
 * the tracking logs and a cmu stand-in in a directory of their own, and a CmStick on the virtual
 * bus, which the command lists through the transport's discovery.
 */

const NAMES = ["anna", "ben", "cleo", "ws-anna", "ws-ben", "ws-cleo", "lic-srv"];

function installation() {
  // Days ago, not the simulation's own day 0: the command reads the real clock, and the borrows must be out.
  const world = simWorld({ start: Date.now() - 3 * 86_400_000 });
  const { sim, bus } = world;
  sim.advance(3_600_000);
  sim.borrow("ws-anna", "anna", 1001);
  sim.borrow("ws-ben", "ben", 1001);
  sim.borrow("ws-cleo", "cleo", 2001);
  sim.advance(86_400_000);
  sim.restartService();
  sim.advance(60_000);
  const home = tempDir("kb-capture-home-");
  const env = {
    HOME: home,
    KEYBRIDGE_CODEMETER_SERVER_INI: sim.paths.serverIni,
    KEYBRIDGE_CODEMETER_CMU: sim.paths.cmu,
  };
  const deps = { usbBackend: async () => virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus)) };
  const tree = [join(sim.root, "etc"), join(sim.root, "var"), join(sim.root, "usr")];
  const capture = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    runCli(["codemeter", "capture", ...args], { ...env, ...extraEnv }, home, deps);
  return { ...world, home, env, deps, tree, capture };
}

const readBundle = (file: string) => JSON.parse(readFileSync(file, "utf8")) as CaptureBundle;

describe("keybridge codemeter capture", () => {
  it("writes one private bundle of what the mode reads, names hashed, and touches nothing of CodeMeter's", async () => {
    const { sim, home, tree, capture } = installation();
    const before = tree.map(snapshot);
    const out = join(home, "capture.json");
    const result = await capture(["--out", out, "--entries", "5"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const bundle = readBundle(out);
    expect(bundle).toMatchObject({
      format: "keybridge-codemeter-capture",
      redaction: { enabled: true, method: "hmac-sha256", salt: "per-capture" },
      versions: { keybridge: "0.1.0", runtime: "8.20a", node: process.versions.node },
      cmu: { state: "ok", finding: null },
      config: {
        state: "ok",
        where: sim.paths.serverIni,
        values: { LogLicenseTracking: "1", trackingDir: sim.paths.logDir, NetworkPort: 22350, BindAddress: "0.0.0.0" },
        borrowSections: {
          BorrowClient: { present: true, values: 0 },
          BorrowServer: { present: true, values: 3 },
          BorrowManage: { present: true },
        },
      },
      detection: {
        mode: "auto",
        runs: true,
        found: { serverConfig: true, cmu: true, stick: true, trackingDir: true },
        sticks: [{ serial: sim.stickSerial }],
      },
    });
    expect(bundle.config.borrowSections?.BorrowServer.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(bundle.cmu.outputs.version).toContain("8.20");
    expect(bundle.cmu.outputs.list).toContain("Result: 1 CmContainer(s) listed.");
    // The last 5 lines of each log file, as they are in the file but for the names.
    expect(bundle.tracking.files.map((file) => file.name).sort()).toEqual([
      "synthetic-license-tracking-fc100532.log",
      "synthetic-license-tracking-fc6000010.log",
    ]);
    for (const file of bundle.tracking.files) {
      expect(file.lines).toHaveLength(5);
      const lines = readFileSync(join(sim.paths.logDir, file.name), "utf8").trimEnd().split("\n").slice(-5);
      expect(file.lines.map((line) => line.replace(/"h-[0-9a-f]{16}"/g, "NAME"))).toEqual(
        lines.map((line) => line.replace(/"(?:[^"\\]|\\.)*"/g, (quoted) => (quoted.includes(" ") ? quoted : "NAME"))),
      );
    }
    // The borrow view rebuilt from the whole log: three borrows, re-listed at the restart.
    expect(bundle.view.borrows).toHaveLength(3);
    expect(bundle.view.borrows.every((borrow) => /^h-[0-9a-f]{16}$/.test(borrow.client ?? ""))).toBe(true);
    // No name of a person or computer anywhere in the file.
    const text = readFileSync(out, "utf8");
    for (const name of NAMES) expect(text).not.toContain(name);

    expect(result.stdout).toContain(`Wrote the CodeMeter capture to ${out} (mode 0600,`);
    expect(result.stdout).toMatch(/redaction {2}on: client, user and server names are replaced by hashes/);
    expect(result.stdout).toContain(
      `License Tracking log ${sim.paths.logDir}: 2 files, 10 lines kept (the last 5 of each)`,
    );
    expect(result.stdout).toContain(`USB: 1 CmStick (${sim.stickSerial})`);
    expect(result.stdout).toContain("borrow view: 3 borrows out, 0 missing");
    expect(result.stdout).toMatch(/missing {4}nothing/);

    // Byte for byte, mode and time: CodeMeter's tree is as it was; cmu was asked to list, nothing else.
    expect(tree.map(snapshot)).toEqual(before);
    const asked = new Set(readFileSync(sim.paths.invocations, "utf8").trim().split("\n"));
    expect(asked).toEqual(new Set(['["--version"]', '["--list"]']));
    // Nothing in the data directory either: the read positions stayed in memory.
    expect(existsSync(join(home, "codemeter-tracking-positions.json"))).toBe(false);
  });

  it("--no-redact keeps the names, and says so", async () => {
    const { home, capture } = installation();
    const out = join(home, "plain.json");
    const result = await capture(["--out", out, "--no-redact"]);
    expect(result.code).toBe(0);
    const bundle = readBundle(out);
    expect(bundle.redaction).toEqual({ enabled: false, method: null, salt: null, keys: [] });
    expect(bundle.view.borrows.map((borrow) => borrow.user).sort()).toEqual(["anna", "ben", "cleo"]);
    expect(readFileSync(out, "utf8")).toContain('Server:\\"lic-srv\\"');
    expect(result.stdout).toContain("redaction  OFF (--no-redact)");
  });

  it("--json prints the summary for scripts", async () => {
    const { sim, home, capture } = installation();
    const out = join(home, "c.json");
    const result = await capture(["--out", out, "--entries", "0", "--json"]);
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({
      file: out,
      redacted: true,
      entries: 0,
      mode: "auto",
      runs: true,
      read: {
        serverConfig: { state: "ok", where: sim.paths.serverIni },
        cmu: { state: "ok", where: sim.paths.cmu, version: "8.20a", serviceRunning: true },
        trackingLog: { dir: sim.paths.logDir, files: 2, lines: 0 },
        sticks: [sim.stickSerial],
        borrows: 3,
        missingBorrows: 0,
      },
      missing: [],
    });
    expect((result.json as { bytes: number }).bytes).toBe(statSync(out).size);
  });

  it("a host where parts are missing: the bundle is written and the summary names what was not found", async () => {
    const { sim, home, capture } = installation();
    sim.uninstallRuntime();
    const out = join(home, "gone.json");
    const result = await capture(["--out", out, "--json"], { KEYBRIDGE_CODEMETER_MODE: "on" });
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({
      mode: "on",
      runs: true,
      read: { serverConfig: { state: "missing" }, cmu: { state: "missing" } },
      missing: [
        { part: "serverConfig", where: sim.paths.serverIni },
        { part: "cmu", where: sim.paths.cmu },
        { part: "trackingDir", where: "/var/log/CodeMeter" },
      ],
    });
    const codes = (result.json as { findings: { code: string }[] }).findings.map((finding) => finding.code);
    expect(codes).toEqual(expect.arrayContaining(["config-missing", "cmu-missing"]));
    expect(readBundle(out).detection?.reason).toMatch(/^the CodeMeter mode is on \(codemeter\.mode = on\)/);
  });

  it("a host without CodeMeter: says so, and still writes what it looked at", async () => {
    const home = tempDir("kb-capture-none-");
    const out = join(home, "none.json");
    const bus = new VirtualBus();
    onCleanup(() => bus.close());
    const result = await runCli(
      ["codemeter", "capture", "--out", out],
      {
        HOME: home,
        KEYBRIDGE_CODEMETER_SERVER_INI: join(home, "Server.ini"),
        KEYBRIDGE_CODEMETER_LOG_DIR: join(home, "t"),
      },
      home,
      {
        usbBackend: async () => virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus)),
      },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("mode       auto: no CodeMeter on this host (looked for");
    expect(readBundle(out).detection).toMatchObject({ runs: false, found: { serverConfig: false, cmu: false } });
  });

  it("refuses to write the capture among CodeMeter's files (exit 2), and writes nothing", async () => {
    const { sim, tree, capture } = installation();
    const before = tree.map(snapshot);
    for (const out of [join(sim.paths.logDir, "capture.json"), sim.paths.serverIni]) {
      const result = await capture(["--out", out]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("keybridge never writes anything of CodeMeter's");
      expect(result.stderr).toContain("[CAPTURE_OUT_REFUSED]");
    }
    expect(tree.map(snapshot)).toEqual(before);
  });

  it("bad input is a usage error: --entries out of range, no --out", async () => {
    const { home, capture } = installation();
    const entries = await capture(["--out", join(home, "x.json"), "--entries", "-1"]);
    expect(entries.code).toBe(2);
    expect(entries.stderr).toContain("--entries must be an integer from 0 to 100000");
    const out = await capture([]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("--out <file>");
    expect(existsSync(join(home, "x.json"))).toBe(false);
  });

  it("--help teaches: what is in a capture, that names are hashed, how to send it", async () => {
    const result = await runCli(["codemeter", "capture", "--help"]);
    expect(result.code).toBe(0);
    for (const text of ["What a capture holds", "Names are hashed unless --no-redact", "attach it to the report"]) {
      expect(result.stdout).toContain(text);
    }
  });

  it("the bare command asks the daemon (capture does not), and its help points at capture", async () => {
    const home = tempDir("kb-capture-nodaemon-");
    const result = await runCli(["codemeter"], { HOME: home }, home);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("[TOKEN_MISSING]");
    const help = await runCli(["codemeter", "--help"]);
    expect(help.stdout).toContain("keybridge codemeter capture --out /tmp/codemeter-capture.json");
    expect(help.stdout).toContain("License Tracking");
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CodeMeterView } from "../../../src/bridge/api.js";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { createServer, type KeybridgeServer } from "../../../src/server/app.js";
import { openCodeMeterBridge, simRoot, waitForRisk } from "../bridge/codemeter-helpers.js";
import { openVirtual } from "../bridge/helpers.js";
import { TOKEN } from "../server/helpers.js";
import { runCli } from "./cli-harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A daemon's data directory (daemon.json, api-token) pointing at a server over `bridge`; the CLI runs against it. */
async function cliFor(bridge: OpenedBridge) {
  const server: KeybridgeServer = await createServer({ bridge, token: TOKEN });
  const url = await server.listen("127.0.0.1", 0);
  const dataDir = mkdtempSync(join(tmpdir(), "kb-cli-cm-"));
  cleanups.push(
    () => server.close(),
    () => rmSync(dataDir, { recursive: true, force: true }),
  );
  writeFileSync(join(dataDir, "api-token"), `${TOKEN}\n`, { mode: 0o600 });
  const started = new Date().toISOString();
  writeFileSync(
    join(dataDir, "daemon.json"),
    JSON.stringify({ pid: process.pid, url, started, mode: "virtual", version: "0" }),
  );
  return (...args: string[]) => runCli(args, { HOME: dataDir }, dataDir);
}

const THREE: [string, string, number, number][] = [
  ["ws-1", "anna", 1001, 30],
  ["ws-2", "ben", 1001, 20],
  ["ws-3", "cleo", 2001, 10],
];

describe("keybridge codemeter", () => {
  it("--json prints GET /v1/codemeter: enabled, runtime, tracking, sticks, borrows", async () => {
    const { bridge, sim } = await openCodeMeterBridge({ borrows: THREE });
    const cli = await cliFor(bridge);
    const result = await cli("codemeter", "--json");
    expect(result.code, result.stderr).toBe(0);
    const view = result.json as CodeMeterView;
    expect(view).toMatchObject({
      enabled: true,
      runtime: { version: sim.runtimeVersion, serviceRunning: true },
      tracking: { enabled: true, dir: sim.paths.logDir },
    });
    expect(view.borrows.map((b) => b.client).sort()).toEqual(["ws-1", "ws-2", "ws-3"]);
    expect(view).toEqual(await bridge.codemeter());
  });

  it("prints runtime, service, tracking, sticks, borrows with expiry and the open risks", async () => {
    const world = await openCodeMeterBridge({ borrows: THREE });
    const cli = await cliFor(world.bridge);
    world.unplugStick();
    await waitForRisk(world.bridge, (risk) => risk.source === "codemeter" && risk.kind === "key-unplugged");
    const { code, stdout } = await cli("codemeter");
    expect(code).toBe(0);
    expect(stdout).toContain(`Runtime: ${world.sim.runtimeVersion}; service running`);
    expect(stdout).toContain(`License Tracking: on — ${world.sim.paths.logDir}`);
    expect(stdout).toMatch(/SERIAL\s+MODEL\s+PRESENT/);
    expect(stdout).toMatch(new RegExp(`^${world.sim.stickSerial}\\s+\\S+\\s+NO$`, "m"));
    for (const borrow of world.sim.active()) expect(stdout).toContain(borrow.borrowId);
    expect(stdout).toMatch(/ws-3 \(cleo\)\s+active\s+\d{4}-\d\d-\d\d \d\d:\d\d \(in (9|10) d\)/);
    expect(stdout).toMatch(/\[CRITICAL\] key-unplugged since/);
  });

  it("on a host without CodeMeter: says it is not watched, and --json has enabled false", async () => {
    const missing = simRoot();
    const bridge = await openVirtual({
      codemeter: { serverIni: `${missing}/Server.ini`, logDir: `${missing}/log`, cmu: `${missing}/cmu` },
    });
    const cli = await cliFor(bridge);
    const text = await cli("codemeter");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^CodeMeter: not watched \(auto\)/);
    expect(((await cli("codemeter", "--json")).json as CodeMeterView).enabled).toBe(false);
    expect((await cli("status")).stdout).not.toContain("CodeMeter");
  });
});

describe("the other commands beside a watched CodeMeter server", () => {
  it("status has a CodeMeter line; borrows lists CodeMeter's read-only; risks and events name the source", async () => {
    const world = await openCodeMeterBridge({ borrows: THREE });
    const cli = await cliFor(world.bridge);
    const status = await cli("status");
    expect(status.stdout).toMatch(
      /CodeMeter: runtime \S+, service running, tracking on, 1 stick\(s\), 3 CodeMeter borrow\(s\) out/,
    );

    const borrows = await cli("borrows");
    expect(borrows.stdout).toContain("CodeMeter borrows (read-only: keybridge cannot return them)");
    const json = (await cli("borrows", "--json")).json as { source: string }[];
    expect(json.map((b) => b.source)).toEqual(["codemeter", "codemeter", "codemeter"]);
    expect((await cli("borrows", "--source", "keybridge", "--json")).json).toEqual([]);

    const refused = await cli("return", world.sim.active()[0]?.borrowId ?? "");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("CODEMETER_BORROW_READ_ONLY");

    const preflight = await cli("preflight", "change-ip");
    expect(preflight.code).toBe(3);
    expect(preflight.stdout).toMatch(/3 borrow\(s\) in the way \(0 keybridge, 3 CodeMeter\); the last ends/);

    world.unplugStick();
    await waitForRisk(world.bridge, (risk) => risk.source === "codemeter");
    expect((await cli("status")).stdout).toMatch(/key-unplugged \(CodeMeter\) since/);
    const events = await cli("events");
    expect(events.stdout).toMatch(/risk\.raised \(CodeMeter\): /);
  });
});

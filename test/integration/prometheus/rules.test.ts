import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { SimulatedCodeMeterServer } from "../../../native-mocks/codemeter-sim/index.js";
import { SEVERITY } from "../../../src/bridge/guard/risk-texts.js";
import { CONFIG_DEFAULTS, type KeybridgeConfig } from "../../../src/config/index.js";
import { startDaemon } from "../../../src/server/daemon.js";
import { Requirement } from "../../support/require-tool.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const RULES = "prometheus/keybridge.rules.yml";
const RULE_TESTS = "prometheus/keybridge.rules.test.yml";
const rulesSource = readFileSync(join(ROOT, RULES), "utf8");

const workDir = mkdtempSync(join(tmpdir(), "keybridge-prometheus-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const PROMTOOL = "/usr/bin/promtool";
const promtoolNeeded = Requirement.tool(PROMTOOL);

/** Runs promtool and returns its exit code and output; a timeout or a failure to start throws. */
function promtool(args: string[], cwd = ROOT): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(PROMTOOL, args, { cwd, timeout: 60_000, encoding: "utf8" }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error === null) resolve({ code: 0, output });
      else if (typeof error.code === "number") resolve({ code: error.code, output });
      else reject(new Error(`promtool ${args.join(" ")} did not run to the end: ${error.message}\n${output}`));
    });
  });
}

/** Lines of the rules file that are not comments: expressions, labels, annotations. */
const ruleLines = rulesSource
  .split("\n")
  .filter((line) => !line.trimStart().startsWith("#"))
  .join("\n");

/** Every keybridge metric the rules read: in `expr:` and in the annotation templates' queries. */
const metricNames = [...new Set(ruleLines.match(/keybridge_[a-z0-9_]+/g) ?? [])].sort();

/** metric → label names its selectors in the rules match on (job and instance come from Prometheus). */
function selectorLabels(): Map<string, Set<string>> {
  const labels = new Map<string, Set<string>>();
  for (const [, name, body] of ruleLines.matchAll(/(keybridge_[a-z0-9_]+)\{([^}]*)\}/g)) {
    const set = labels.get(name!) ?? new Set<string>();
    for (const [, label] of body!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      if (label !== "job" && label !== "instance") set.add(label!);
    }
    labels.set(name!, set);
  }
  return labels;
}

describe("prometheus/keybridge.rules.yml", () => {
  it(`passes promtool check rules${promtoolNeeded.skipNote}`, async (ctx) => {
    promtoolNeeded.check(ctx);
    const result = await promtool(["check", "rules", RULES]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS: 14 rules found/);
  });

  it(`passes its promtool unit tests${promtoolNeeded.skipNote}`, async (ctx) => {
    promtoolNeeded.check(ctx);
    const result = await promtool(["test", "rules", RULE_TESTS]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it(`the unit tests catch a rule that pages on a blip${promtoolNeeded.skipNote}`, async (ctx) => {
    promtoolNeeded.check(ctx);
    const dir = mkdtempSync(join(workDir, "blip-"));
    copyFileSync(join(ROOT, RULE_TESTS), join(dir, "keybridge.rules.test.yml"));
    const down = /(- alert: KeybridgeDown\n\s+expr: [^\n]+\n\s+)for: 3m/;
    expect(rulesSource).toMatch(down);
    writeFileSync(join(dir, "keybridge.rules.yml"), rulesSource.replace(down, "$1for: 0m"));
    const result = await promtool(["test", "rules", "keybridge.rules.test.yml"], dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/alertname: KeybridgeDown, time: 2m/);
  });

  it(`the prometheus.yml example in docs/alerts.md passes promtool check config${promtoolNeeded.skipNote}`, async (ctx) => {
    promtoolNeeded.check(ctx);
    const docs = readFileSync(join(ROOT, "docs/alerts.md"), "utf8");
    const example = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1] ?? "";
    expect(example).toMatch(/job_name: keybridge\b/);
    const installed = "/etc/prometheus/keybridge.rules.yml";
    expect(example).toContain(installed);
    const dir = mkdtempSync(join(workDir, "config-"));
    writeFileSync(join(dir, "prometheus.yml"), example.replace(installed, join(ROOT, RULES)));
    const result = await promtool(["check", "config", "prometheus.yml"], dir);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS: 14 rules found/);
  });

  it("has advice for every risk kind the bridge raises", () => {
    const kinds = Object.keys(SEVERITY);
    expect(kinds.length).toBeGreaterThan(10);
    for (const kind of kinds) expect(rulesSource, kind).toContain(`"${kind}"`);
  });

  it("reads only metrics a running daemon exposes, with the labels it puts on them", async () => {
    expect(metricNames.length).toBeGreaterThanOrEqual(7);
    const dataDir = mkdtempSync(join(workDir, "daemon-"));
    // A SYNTHETIC CodeMeter server beside it, with a borrow out, so the CodeMeter series exist too.
    const sim = new SimulatedCodeMeterServer({ root: mkdtempSync(join(workDir, "codemeter-")), start: Date.now() });
    sim.borrow("ws-9", "ida", 1001, 10);
    sim.unplugStick();
    const config: KeybridgeConfig = {
      ...CONFIG_DEFAULTS,
      dataDir,
      listen: "127.0.0.1:0",
      mode: "virtual",
      registryKind: "memory",
      hostPollMs: 60_000,
      clockCheckMs: 60_000,
      logLevel: "error",
      // A webhook for an event this test never causes: its notification series exist, at 0.
      webhooks: [{ url: "http://127.0.0.1:9/never", name: "ops", events: ["migration.done"] }],
      codemeter: { mode: "auto", serverIni: sim.paths.serverIni, logDir: sim.paths.logDir, cmu: sim.paths.cmu },
    };
    const daemon = await startDaemon({ config });
    try {
      const token = readFileSync(daemon.tokenFile, "utf8").trim();
      const api = async (path: string, json?: unknown) => {
        const response = await fetch(`${daemon.url}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(json ?? {}),
        });
        expect(response.status, `${path}: ${await response.clone().text()}`).toBeLessThan(300);
        return response;
      };
      // Drive the key into the states the alerts are about, so every series has a sample:
      // a borrow (exchanges, operations), a forced license update (a dummy with its clear date),
      // a second borrow of another product, then the key pulled (a risk).
      const { serial } = (await (await api("/v1/borrows", { product: 1001, client: "ws-1" })).json()) as {
        serial: string;
      };
      const licenses = [
        { product: 1001, seats: 10, borrowable: 4, borrowDays: 30 },
        { product: 1002, seats: 5, borrowable: 2, borrowDays: 30 },
      ];
      await api(`/v1/keys/${serial}/license-update`, { licenses, force: true });
      await api("/v1/borrows", { product: 1002, client: "ws-2" });
      await api(`/v1/virtual/keys/${serial}/unplug`);

      // /metrics needs no token (docs/alerts.md's scrape config relies on that).
      const scrape = await fetch(`${daemon.url}/metrics`);
      expect(scrape.status).toBe(200);
      const text = await scrape.text();
      const samples = new Map<string, Set<string>>();
      for (const line of text.split("\n")) {
        const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /.exec(line);
        if (sample === null) continue;
        const labels = samples.get(sample[1]!) ?? new Set<string>();
        for (const [, label] of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(label!);
        samples.set(sample[1]!, labels);
      }
      const missing = metricNames.filter((name) => !samples.has(name));
      expect(missing, `metrics in ${RULES} that /metrics does not expose`).toEqual([]);
      for (const [name, labels] of selectorLabels()) {
        for (const label of labels) expect(samples.get(name)?.has(label), `${name} has label ${label}`).toBe(true);
      }
      expect(text).toMatch(/^keybridge_risks_open\{kind="key-unplugged",severity="critical",source="keybridge"\} 1$/m);
      expect(text).toMatch(/^keybridge_keys_present 0$/m);
      // The simulated server's stick was pulled with its borrow out: a CodeMeter risk.
      expect(text).toMatch(/^keybridge_risks_open\{kind="key-unplugged",severity="critical",source="codemeter"\} 1$/m);
      expect(text).toMatch(/^keybridge_codemeter_tracking_enabled 1$/m);
    } finally {
      await daemon.stop();
    }
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import type { CodeMeterMode } from "../../../src/codemeter/index.js";
import { type KeybridgeConfig, loadConfig } from "../../../src/config/index.js";
import { runCli } from "../cli/cli-harness.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-cm-config-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const file = (content: unknown) => {
  const path = join(dir, "keybridge.json");
  writeFileSync(path, JSON.stringify(content));
  return path;
};

describe("the codemeter configuration", () => {
  it("the mode's words are the CodeMeter module's", () => {
    expectTypeOf<KeybridgeConfig["codemeter"]["mode"]>().toEqualTypeOf<CodeMeterMode>();
  });

  it("defaults to auto with every path left to the platform's default", () => {
    const { config, sources } = loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir } });
    expect(config.codemeter).toEqual({ mode: "auto" });
    expect(sources["codemeter.mode"]).toBe("default");
    expect(sources["codemeter.serverIni"]).toBe("default");
    expect(sources["codemeter.logDir"]).toBe("default");
    expect(sources["codemeter.cmu"]).toBe("default");
  });

  it("takes each member from the file, the environment and flags, the later winning member by member", () => {
    const path = file({ codemeter: { mode: "off", serverIni: "/etc/wibu/CodeMeter/Server.ini", logDir: "/srv/a" } });
    const { config, sources } = loadConfig({
      env: { KEYBRIDGE_DATA_DIR: dir, KEYBRIDGE_CODEMETER_LOG_DIR: "/srv/b", KEYBRIDGE_CODEMETER_MODE: "on" },
      flags: { "codemeter.mode": "auto", "codemeter.cmu": "/opt/codemeter/bin/cmu" },
    });
    expect(config.codemeter).toEqual({
      mode: "auto",
      serverIni: "/etc/wibu/CodeMeter/Server.ini",
      logDir: "/srv/b",
      cmu: "/opt/codemeter/bin/cmu",
    });
    expect(sources["codemeter.mode"]).toBe("flag --codemeter");
    expect(sources["codemeter.serverIni"]).toBe(`file ${path}`);
    expect(sources["codemeter.logDir"]).toBe("env KEYBRIDGE_CODEMETER_LOG_DIR");
    expect(sources["codemeter.cmu"]).toBe("flag --codemeter-cmu");
  });

  it("reads every variable: KEYBRIDGE_CODEMETER_MODE, _SERVER_INI, _LOG_DIR, _CMU", () => {
    const { config, sources } = loadConfig({
      env: {
        KEYBRIDGE_DATA_DIR: dir,
        KEYBRIDGE_CODEMETER_MODE: "off",
        KEYBRIDGE_CODEMETER_SERVER_INI: "/x/Server.ini",
        KEYBRIDGE_CODEMETER_LOG_DIR: "/x/log",
        KEYBRIDGE_CODEMETER_CMU: "/x/cmu",
      },
    });
    expect(config.codemeter).toEqual({ mode: "off", serverIni: "/x/Server.ini", logDir: "/x/log", cmu: "/x/cmu" });
    expect(sources["codemeter.serverIni"]).toBe("env KEYBRIDGE_CODEMETER_SERVER_INI");
    expect(sources["codemeter.cmu"]).toBe("env KEYBRIDGE_CODEMETER_CMU");
  });

  it('takes "codemeter": "off" in the file as the mode alone', () => {
    const path = file({ codemeter: "off" });
    const { config, sources } = loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir } });
    expect(config.codemeter).toEqual({ mode: "off" });
    expect(sources["codemeter.mode"]).toBe(`file ${path}`);
  });

  it("makes relative paths absolute; a bare cmu stays a name looked up on PATH", () => {
    file({ codemeter: { serverIni: "conf/Server.ini", logDir: "log" } });
    const bare = loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir, KEYBRIDGE_CODEMETER_CMU: "cmu" } }).config.codemeter;
    expect(bare).toEqual({ mode: "auto", serverIni: resolve("conf/Server.ini"), logDir: resolve("log"), cmu: "cmu" });
    const relative = loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir }, flags: { "codemeter.cmu": "./bin/cmu" } });
    expect(relative.config.codemeter.cmu).toBe(resolve("bin/cmu"));
  });

  it.each([
    [
      { env: { KEYBRIDGE_CODEMETER_MODE: "maybe" } },
      "codemeter.mode: expected auto, on or off, got 'maybe' (from env KEYBRIDGE_CODEMETER_MODE)",
    ],
    [
      { file: { codemeter: { mode: "ON" } } },
      `codemeter.mode: expected auto, on or off, got 'ON' (from file ${"<file>"})`,
    ],
    [
      { file: { codemeter: { logdir: "/x" } } },
      "codemeter.logdir: unknown field; codemeter takes mode, serverIni, logDir, cmu (from file <file>)",
    ],
    [
      { file: { codemeter: { logDir: "" } } },
      "codemeter.logDir: expected the License Tracking directory, got '' (from file <file>)",
    ],
    [
      { file: { codemeter: 5 } },
      "codemeter: expected {mode, serverIni, logDir, cmu} or one of auto, on, off, got 5 (from file <file>)",
    ],
    [
      { file: { codemeter: { serverIni: ["/a"] } } },
      `codemeter.serverIni: expected the path of CodeMeter's Server.ini, got ["/a"] (from file <file>)`,
    ],
  ])("refuses %j with a message naming the member, the source and what is expected", (input, message) => {
    const path = "file" in input ? file(input.file) : join(dir, "none.json");
    const env = { KEYBRIDGE_DATA_DIR: dir, ...("env" in input ? input.env : {}) };
    expect(() => loadConfig({ env })).toThrow(message.replace("<file>", path));
  });
});

describe("the CLI's codemeter options", () => {
  it("serve refuses a bad --codemeter as a usage error (exit 2), before anything starts", async () => {
    const result = await runCli(["serve", "--codemeter", "sometimes", "--data-dir", dir], { HOME: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "codemeter.mode: expected auto, on or off, got 'sometimes' (from flag --codemeter)",
    );
  });

  it("serve --help names the options", async () => {
    const result = await runCli(["serve", "--help"], { HOME: dir });
    for (const option of ["--codemeter <mode>", "--codemeter-server-ini", "--codemeter-log-dir", "--codemeter-cmu"]) {
      expect(result.stdout).toContain(option);
    }
  });

  it("config shows each member with its source, and what an unset path stands for", async () => {
    const env = { HOME: dir, KEYBRIDGE_CODEMETER_LOG_DIR: "/srv/tracking" };
    const text = await runCli(["config", "--data-dir", dir], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/codemeter\.mode\s+auto\s+default/);
    expect(text.stdout).toMatch(/codemeter\.logDir\s+\/srv\/tracking\s+env KEYBRIDGE_CODEMETER_LOG_DIR/);
    expect(text.stdout).toMatch(/codemeter\.cmu\s+cmu, looked up on PATH\s+default/);
    if (process.platform === "linux") {
      expect(text.stdout).toMatch(/codemeter\.serverIni\s+\/etc\/wibu\/CodeMeter\/Server\.ini\s+default/);
    }
    const json = await runCli(["config", "--json", "--data-dir", dir], env);
    const shown = json.json as { config: KeybridgeConfig; sources: Record<string, string> };
    expect(shown.config.codemeter).toEqual({ mode: "auto", logDir: "/srv/tracking" });
    expect(shown.sources["codemeter.logDir"]).toBe("env KEYBRIDGE_CODEMETER_LOG_DIR");
  });
});

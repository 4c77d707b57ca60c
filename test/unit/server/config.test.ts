import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultDataDir, isLoopbackHost, loadConfig, parseDuration } from "../../../src/config/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-config-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("loadConfig", () => {
  it("defaults: loopback 22380, real mode, the XDG state directory", () => {
    const { config, sources, file } = loadConfig({ env: { HOME: "/home/ana", XDG_STATE_HOME: "" } });
    expect(config.listen).toBe("127.0.0.1:22380");
    expect(config.mode).toBe("real");
    expect(config.allowRemote).toBe(false);
    if (process.getuid?.() !== 0) expect(config.dataDir).toBe("/home/ana/.local/state/keybridge");
    expect(sources.listen).toBe("default");
    expect(file).toBeUndefined();
  });

  it("file < environment < flags, each value with its source", () => {
    const file = join(dir, "keybridge.json");
    writeFileSync(
      file,
      JSON.stringify({ listen: "127.0.0.1:1111", queueLimit: 8, hostPollMs: "2s", logLevel: "warn" }),
    );
    const { config, sources } = loadConfig({
      env: { KEYBRIDGE_DATA_DIR: dir, KEYBRIDGE_LISTEN: "127.0.0.1:2222", KEYBRIDGE_QUEUE_LIMIT: "16" },
      flags: { listen: "127.0.0.1:3333" },
    });
    expect(config.listen).toBe("127.0.0.1:3333");
    expect(sources.listen).toBe("flag --listen");
    expect(config.queueLimit).toBe(16);
    expect(sources.queueLimit).toBe("env KEYBRIDGE_QUEUE_LIMIT");
    expect(config.hostPollMs).toBe(2000);
    expect(sources.hostPollMs).toBe(`file ${file}`);
    expect(config.logLevel).toBe("warn");
    expect(config.dataDir).toBe(dir);
    expect(sources.dataDir).toBe("env KEYBRIDGE_DATA_DIR");
  });

  it("--config FILE is read instead of <dataDir>/keybridge.json", () => {
    const other = join(dir, "other.json");
    writeFileSync(other, JSON.stringify({ mode: "virtual", bindingComponents: ["machineId"] }));
    const { config, file } = loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir }, configFile: other });
    expect(file).toBe(other);
    expect(config.mode).toBe("virtual");
    expect(config.bindingComponents).toEqual(["machineId"]);
  });

  it.each([
    [{ KEYBRIDGE_LISTEN: "abc" }, "listen: expected HOST:PORT, got 'abc' (from env KEYBRIDGE_LISTEN)"],
    [
      { KEYBRIDGE_LISTEN: "127.0.0.1:99999" },
      "listen: expected HOST:PORT, got '127.0.0.1:99999' (from env KEYBRIDGE_LISTEN)",
    ],
    [
      { KEYBRIDGE_QUEUE_LIMIT: "many" },
      "queueLimit: expected an integer from 1 to 100000, got 'many' (from env KEYBRIDGE_QUEUE_LIMIT)",
    ],
    [
      { KEYBRIDGE_HOST_POLL: "5 parsecs" },
      "hostPollMs: expected a duration from 100ms to 1d, got '5 parsecs' (from env KEYBRIDGE_HOST_POLL)",
    ],
    [{ KEYBRIDGE_MODE: "fake" }, "mode: expected real or virtual, got 'fake' (from env KEYBRIDGE_MODE)"],
    [
      { KEYBRIDGE_ALLOW_REMOTE: "perhaps" },
      "allowRemote: expected true or false, got 'perhaps' (from env KEYBRIDGE_ALLOW_REMOTE)",
    ],
    [
      { KEYBRIDGE_BINDING: "ips,mac" },
      "bindingComponents: expected a non-empty list of ips, hostname, machineId, osInstallId, got 'ips,mac' (from env KEYBRIDGE_BINDING)",
    ],
  ])("refuses %j with a message naming field, source and reason", (env, message) => {
    expect(() => loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir, ...env } })).toThrow(message);
  });

  it("names the file for a bad file value, an unknown field or broken JSON", () => {
    const file = join(dir, "keybridge.json");
    writeFileSync(file, JSON.stringify({ exchangeTimeoutMs: -5 }));
    expect(() => loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir } })).toThrow(
      `exchangeTimeoutMs: expected a duration from 10ms to 10m, got -5 (from file ${file})`,
    );
    writeFileSync(file, JSON.stringify({ colour: "red" }));
    expect(() => loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir } })).toThrow(
      `colour: unknown configuration field (from file ${file})`,
    );
    writeFileSync(file, "{ nope");
    expect(() => loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir } })).toThrow(/is not valid JSON/);
  });

  it("a flag value is named as a flag", () => {
    expect(() => loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir }, flags: { listen: "nowhere" } })).toThrow(
      "listen: expected HOST:PORT, got 'nowhere' (from flag --listen)",
    );
  });

  it("refuses a non-loopback listen address unless allowRemote, then warns", () => {
    expect(() => loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir, KEYBRIDGE_LISTEN: "0.0.0.0:22380" } })).toThrow(
      /listen: 0\.0\.0\.0:22380 is not a loopback address \(from env KEYBRIDGE_LISTEN\)/,
    );
    const allowed = loadConfig({
      env: { KEYBRIDGE_DATA_DIR: dir, KEYBRIDGE_LISTEN: "0.0.0.0:22380", KEYBRIDGE_ALLOW_REMOTE: "true" },
    });
    expect(allowed.warnings[0]).toMatch(/reachable from other machines/);
    expect(loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir, KEYBRIDGE_LISTEN: "[::1]:22380" } }).warnings).toEqual([]);
  });
});

describe("helpers", () => {
  it("parses durations", () => {
    expect(parseDuration("31d")).toBe(31 * 86_400_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("250")).toBe(250);
    expect(() => parseDuration("soon")).toThrow(/expected a duration/);
  });

  it("knows loopback hosts", () => {
    expect(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"].every(isLoopbackHost)).toBe(true);
    expect(["0.0.0.0", "192.0.2.1", "::", "example.org"].some(isLoopbackHost)).toBe(false);
  });

  it("default data dir follows XDG_STATE_HOME for users", () => {
    if (process.getuid?.() === 0) expect(defaultDataDir({})).toBe("/var/lib/keybridge");
    else expect(defaultDataDir({ XDG_STATE_HOME: "/x/state" })).toBe("/x/state/keybridge");
  });
});

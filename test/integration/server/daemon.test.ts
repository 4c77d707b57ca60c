import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Bridge, BridgeOptions } from "../../../src/bridge/api.js";
import type { DataDirLock } from "../../../src/bridge/index.js";
import { openBridge } from "../../../src/bridge/open.js";
import { CONFIG_DEFAULTS, type KeybridgeConfig } from "../../../src/config/index.js";
import { startDaemon, UNHANDLED_REJECTION_MESSAGE } from "../../../src/server/daemon.js";
import { describeNeeding, Requirement } from "../../support/require-tool.js";
import { overriding } from "../../unit/server/helpers.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-daemon-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const configFor = (dataDir: string): KeybridgeConfig => ({
  ...CONFIG_DEFAULTS,
  dataDir,
  listen: "127.0.0.1:0",
  mode: "virtual",
  logLevel: "error",
});

/**
 * The daemon's own virtual bridge, opened as the daemon opens it, with `replaced` members (a test's
 * stub for one behaviour), and whether the daemon closed it.
 */
function watchedBridge(replaced: (bridge: Bridge) => Partial<Record<keyof Bridge, unknown>> = () => ({})) {
  let closed = false;
  return {
    closed: () => closed,
    open: async (options: BridgeOptions, lock: DataDirLock): Promise<Bridge> => {
      const bridge = await openBridge(options, { dataDirLock: lock });
      return overriding(bridge, {
        close: async () => {
          closed = true;
          await bridge.close();
        },
        ...replaced(bridge),
      });
    },
  };
}

describe("startDaemon (virtual bridge)", () => {
  it("creates the data dir 0700, the token 0600 once, daemon.json 0600; removes daemon.json on stop", async () => {
    const dataDir = join(dir, "state", "keybridge");
    const bridge = watchedBridge();
    const daemon = await startDaemon({ config: configFor(dataDir), openBridge: bridge.open });
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const tokenFile = join(dataDir, "api-token");
    expect(daemon.tokenFile).toBe(tokenFile);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, "utf8").trim();
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    const info = JSON.parse(readFileSync(join(dataDir, "daemon.json"), "utf8")) as Record<string, unknown>;
    expect(info).toMatchObject({ pid: process.pid, url: daemon.url, mode: "virtual" });
    expect(statSync(join(dataDir, "daemon.json")).mode & 0o777).toBe(0o600);
    const health = await fetch(`${daemon.url}/v1/health`);
    expect(health.status).toBe(200);
    const authed = await fetch(`${daemon.url}/v1/keys`, { headers: { authorization: `Bearer ${token}` } });
    expect(authed.status).toBe(200);
    await daemon.stop();
    expect(bridge.closed()).toBe(true);
    expect(existsSync(join(dataDir, "daemon.json"))).toBe(false);

    const again = await startDaemon({ config: configFor(dataDir) });
    expect(readFileSync(tokenFile, "utf8").trim()).toBe(token);
    await again.stop();
  });

  it("finishes a request in flight before closing the bridge", async () => {
    let arrived!: () => void;
    const reachedBridge = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    // Each report of the virtual key takes 20 ms: the borrow is still at the key when the stop begins.
    const bridge = watchedBridge((inner) => ({
      borrow: (...args: Parameters<Bridge["borrow"]>) => {
        arrived();
        return inner.borrow(...args);
      },
    }));
    const daemon = await startDaemon({
      config: { ...configFor(dir), virtualLatencyMs: 20 },
      openBridge: bridge.open,
    });
    const token = readFileSync(join(dir, "api-token"), "utf8").trim();
    const pending = fetch(`${daemon.url}/v1/borrows`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ product: 1001, client: "late" }),
    });
    // Stop only once the request is inside the bridge: it is then in flight, whatever the machine's load.
    await reachedBridge;
    await daemon.stop();
    expect((await pending).status).toBe(201);
  });

  it("a taken port is a LISTEN_FAILED error and the bridge is closed again", async () => {
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    const bridge = watchedBridge();
    await expect(
      startDaemon({ config: { ...configFor(dir), listen: `127.0.0.1:${port}` }, openBridge: bridge.open }),
    ).rejects.toMatchObject({ code: "LISTEN_FAILED" });
    expect(bridge.closed()).toBe(true);
    blocker.close();
  });

  it("a bridge that fails to get ready is closed again and the start fails with BRIDGE_UNAVAILABLE", async () => {
    const bridge = watchedBridge(() => ({
      ready: async () => {
        throw new Error("the ledger is locked by another process");
      },
    }));
    await expect(startDaemon({ config: configFor(dir), openBridge: bridge.open })).rejects.toMatchObject({
      code: "BRIDGE_UNAVAILABLE",
      message: expect.stringContaining("the ledger is locked"),
    });
    expect(bridge.closed()).toBe(true);
  });

  it("when daemon.json cannot be written the start fails and the bridge is closed again", async () => {
    mkdirSync(join(dir, "daemon.json", "occupied"), { recursive: true });
    const bridge = watchedBridge();
    await expect(startDaemon({ config: configFor(dir), openBridge: bridge.open })).rejects.toMatchObject({
      code: "DAEMON_FILE_IO",
    });
    expect(bridge.closed()).toBe(true);
  });
});

const bin = resolve("dist/src/cli/main.js");
const build = Requirement.build(bin);

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describeNeeding(build, "keybridge serve --virtual (spawned, real bridge)", () => {
  it("logs JSON lines without the token, keeps it out of the process list, stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const daemon = spawn(
      process.execPath,
      [bin, "serve", "--virtual", "--data-dir", dir, "--listen", `127.0.0.1:${port}`],
      {
        env: { ...process.env, KEYBRIDGE_LOG_LEVEL: "debug", VITEST: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let logs = "";
    daemon.stdout.on("data", (chunk: Buffer) => (logs += chunk.toString()));
    daemon.stderr.on("data", (chunk: Buffer) => (logs += chunk.toString()));
    const exited = new Promise<number | null>((r) => daemon.on("exit", (code) => r(code)));
    try {
      let healthy = false;
      for (let i = 0; i < 200 && !healthy; i++) {
        healthy = await fetch(`${url}/v1/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (!healthy) await new Promise((r) => setTimeout(r, 100));
      }
      expect(healthy, logs).toBe(true);
      const token = readFileSync(join(dir, "api-token"), "utf8").trim();
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [bin, ...args, "--data-dir", dir], {
          encoding: "utf8",
          env: { ...process.env, VITEST: "" },
        });
      const keys = cli("keys", "--json");
      expect(keys.status, keys.stderr).toBe(0);
      const serial = (JSON.parse(keys.stdout) as { serial: string; licenses: { product: number }[] }[])[0]!;
      const borrow = cli("borrow", String(serial.licenses[0]!.product), "--client", "ps-check", "--json");
      expect(borrow.status, borrow.stderr).toBe(0);
      const borrowed = JSON.parse(borrow.stdout) as { id: number };
      const returned = cli("return", String(borrowed.id), "--json");
      expect(returned.status, returned.stderr).toBe(0);
      expect(JSON.parse(returned.stdout)).toMatchObject({ outcome: "returned", borrow: { state: "returned" } });
      // An SSE client with the token in its query: the URL must not reach the log.
      const controller = new AbortController();
      await fetch(`${url}/v1/events?token=${encodeURIComponent(token)}`, { signal: controller.signal });
      controller.abort();
      // A following CLI process: its arguments hold no token either.
      const follower = spawn(process.execPath, [bin, "events", "--follow", "--data-dir", dir], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, 300));
      const args = spawnSync("ps", ["-o", "args=", "-p", `${daemon.pid},${follower.pid}`], { encoding: "utf8" }).stdout;
      follower.kill("SIGINT");
      expect(args).toContain("serve --virtual");
      expect(args).toContain("events --follow");
      expect(args).not.toContain(token);

      daemon.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(existsSync(join(dir, "daemon.json"))).toBe(false);
      const lines = logs
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("{"));
      expect(lines.length).toBeGreaterThan(2);
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      expect(logs).toContain("keybridge daemon listening");
      expect(logs).toContain(join(dir, "api-token"));
      expect(logs).not.toContain(token);
      expect(logs).not.toMatch(/[?&]token=/);
      // A rejection nobody handled is logged by the daemon (which stays up): here it is a failure.
      expect(logs).not.toContain(UNHANDLED_REJECTION_MESSAGE);
    } finally {
      if (daemon.exitCode === null) daemon.kill("SIGKILL");
    }
  });
});

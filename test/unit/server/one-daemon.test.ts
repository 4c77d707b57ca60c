import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openBridge } from "../../../src/bridge/open.js";
import { CONFIG_DEFAULTS, type KeybridgeConfig } from "../../../src/config/index.js";
import { startDaemon } from "../../../src/server/daemon.js";

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-one-daemon-"));
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((done) => child.once("exit", done));
      child.kill("SIGKILL");
      await gone;
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const configFor = (dataDir: string, listen = "127.0.0.1:0"): KeybridgeConfig => ({
  ...CONFIG_DEFAULTS,
  dataDir,
  listen,
  mode: "virtual",
  logLevel: "error",
});

describe("one daemon per data directory (startDaemon)", () => {
  it("refuses a second daemon before its bridge opens, naming the first's pid and URL; the first keeps its daemon.json", async () => {
    const first = await startDaemon({ config: configFor(dir) });
    const infoBefore = readFileSync(join(dir, "daemon.json"), "utf8");
    let secondOpened = false;
    const second = startDaemon({
      config: configFor(dir),
      openBridge: async (options, lock) => {
        secondOpened = true;
        return openBridge(options, { dataDirLock: lock });
      },
    });
    await expect(second).rejects.toMatchObject({ code: "DATA_DIR_LOCKED" });
    const error = (await second.catch((e: unknown) => e)) as Error;
    expect(error.message).toContain(`pid ${process.pid}`);
    expect(secondOpened).toBe(false);
    expect(readFileSync(join(dir, "daemon.json"), "utf8")).toBe(infoBefore);
    expect((await fetch(`${first.url}/v1/health`)).status).toBe(200);
    await first.stop();

    // Once the first stopped, the directory is free again.
    const third = await startDaemon({ config: configFor(dir) });
    await third.stop();
  });
});

const bin = resolve("dist/src/cli/main.js");
const built = existsSync(bin);

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createNetServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

interface Served {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function serve(port: number): Served {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, KEYBRIDGE_LOG_FORMAT: "json" };
  const child = spawn(
    process.execPath,
    [bin, "serve", "--virtual", "--data-dir", dir, "--listen", `127.0.0.1:${port}`, "--log-level", "info"],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return { child, output: () => output, exited };
}

async function healthy(url: string, served: Served): Promise<void> {
  for (;;) {
    if (served.child.exitCode !== null) throw new Error(`serve exited early: ${served.output()}`);
    const ok = await fetch(`${url}/v1/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((done) => setTimeout(done, 100));
  }
}

describe.skipIf(!built)("one daemon per data directory (keybridge serve, spawned)", () => {
  for (const samePort of [true, false]) {
    it(`a second serve on the same directory and ${samePort ? "the same" : "another"} port exits 1 naming the first; the first is undisturbed`, async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const first = serve(port);
      await healthy(url, first);
      const infoBefore = readFileSync(join(dir, "daemon.json"), "utf8");
      const token = readFileSync(join(dir, "api-token"), "utf8").trim();
      const auth = { authorization: `Bearer ${token}` };
      const borrowed = await fetch(`${url}/v1/borrows`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ product: 1001, client: "ws-first" }),
      });
      expect(borrowed.status).toBe(201);

      const second = serve(samePort ? port : await freePort());
      expect(await second.exited).toBe(1);
      const said = second.output();
      expect(said).toContain("[DATA_DIR_LOCKED]");
      expect(said).toContain(`pid ${first.child.pid}`);
      expect(said).toContain(url);
      // It stopped before the bridge: no recovery, no registry repair, no listening.
      expect(said).not.toMatch(/"layer":"(bridge|ledger|registry)"/);
      expect(said).not.toMatch(/listening/);

      expect(readFileSync(join(dir, "daemon.json"), "utf8")).toBe(infoBefore);
      const risks = (await (await fetch(`${url}/v1/risks`, { headers: auth })).json()) as { kind: string }[];
      expect(risks.map((risk) => risk.kind)).not.toContain("registry-lost");
      const borrows = (await (await fetch(`${url}/v1/borrows`, { headers: auth })).json()) as { client: string }[];
      expect(borrows.map((b) => b.client)).toEqual(["ws-first"]);
    });
  }

  it("a daemon killed with SIGKILL does not block the next start", async () => {
    const port = await freePort();
    const first = serve(port);
    await healthy(`http://127.0.0.1:${port}`, first);
    first.child.kill("SIGKILL");
    await first.exited;
    const next = serve(port);
    await healthy(`http://127.0.0.1:${port}`, next);
    next.child.kill("SIGTERM");
    expect(await next.exited).toBe(0);
  });
});

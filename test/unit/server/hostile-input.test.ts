import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS, loadConfig } from "../../../src/config/index.js";
import { createServer } from "../../../src/server/app.js";
import { startDaemon } from "../../../src/server/daemon.js";
import { type Harness, startHarness, TOKEN } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

describe("client names with control characters are refused at the API", () => {
  it.each([
    ["ws\u0000evil", "U+0000 (NUL) at position 3"],
    ["\u001b]0;pwned\u0007", "U+001B (ESC) at position 1"],
    ["ws-07\n2  KB-0001  1001  forged", "U+000A (LF) at position 6"],
    ["ws\u202eexe.txt", "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 3"],
    ["ws\u0085", "U+0085 (C1 control) at position 3"],
  ])("%j → 400 VALIDATION naming the character and its position; nothing borrowed", async (client, where) => {
    const response = await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; field: string; detail: string };
    expect(body.code).toBe("VALIDATION");
    expect(body.field).toBe("client");
    expect(body.detail).toContain(`client: holds ${where}`);
    expect(await (await h.api("/v1/borrows")).json()).toEqual([]);
  });

  it("the OpenAPI document says what a client name may hold", async () => {
    const doc = (await (await h.api("/v1/openapi.json")).json()) as Record<string, unknown>;
    expect(JSON.stringify(doc)).toContain("no control characters, line breaks or bidirectional controls");
  });
});

/** A GET with a Host header of our choosing (fetch does not let one set it), as a rebinding page's browser sends. */
function getWithHost(url: string, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((done, failed) => {
    const target = new URL(path, url);
    const req = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: { host, authorization: `Bearer ${TOKEN}` },
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => done({ status: response.statusCode ?? 0, body }));
      },
    );
    req.on("error", failed);
    req.end();
  });
}

describe("the Host header is checked on a loopback daemon (DNS rebinding)", () => {
  it("a page under another name reads nothing: 421 HOST_NOT_ALLOWED on every route, open ones included", async () => {
    const port = new URL(h.url).port;
    for (const path of ["/v1/health", "/", "/metrics", "/v1/openapi.json", "/v1/status", "/v1/events", "/nowhere"]) {
      const answer = await getWithHost(h.url, path, `evil.example:${port}`);
      expect(answer.status, path).toBe(421);
      const problem = JSON.parse(answer.body) as { code: string; detail: string };
      expect(problem.code).toBe("HOST_NOT_ALLOWED");
      expect(problem.detail).toContain(`not for 'evil.example:${port}'`);
      expect(problem.detail).toContain("allowedHosts");
    }
  });

  it("loopback names answer, with the daemon's port or another (an SSH tunnel)", async () => {
    const port = new URL(h.url).port;
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      "LocalHost.:9000",
      "127.0.0.2",
      "localhost",
    ]) {
      expect((await getWithHost(h.url, "/v1/health", host)).status, host).toBe(200);
    }
  });

  it("configured names answer too; the list comes from the file, KEYBRIDGE_ALLOWED_HOSTS or --allowed-hosts", async () => {
    const server = await createServer({ bridge: h.bridge, token: TOKEN, allowedHosts: ["keybridge.lan"] });
    const url = await server.listen("127.0.0.1", 0);
    try {
      expect((await getWithHost(url, "/v1/health", "KEYBRIDGE.lan:443")).status).toBe(200);
      expect((await getWithHost(url, "/v1/health", "keybridge.lan.evil.example")).status).toBe(421);
    } finally {
      await server.close();
    }
    const fromEnv = loadConfig({ env: { KEYBRIDGE_ALLOWED_HOSTS: "a.lan, b.lan", HOME: "/nonexistent" } });
    expect(fromEnv.config.allowedHosts).toEqual(["a.lan", "b.lan"]);
    expect(fromEnv.sources.allowedHosts).toBe("env KEYBRIDGE_ALLOWED_HOSTS");
    const fromFlag = loadConfig({ env: { HOME: "/nonexistent" }, flags: { allowedHosts: "c.lan" } });
    expect(fromFlag.config.allowedHosts).toEqual(["c.lan"]);
    expect(() => loadConfig({ env: { HOME: "/nonexistent" }, flags: { allowedHosts: "evil host/" } })).toThrow(
      /allowedHosts: expected a list of host names/,
    );
  });

  it("the daemon checks Host headers with its configured names", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "kb-hosts-"));
    const daemon = await startDaemon({
      config: {
        ...CONFIG_DEFAULTS,
        dataDir,
        listen: "127.0.0.1:0",
        mode: "virtual",
        logLevel: "error",
        allowedHosts: ["kb.lan"],
      },
    });
    try {
      expect((await getWithHost(daemon.url, "/v1/health", "kb.lan:22380")).status).toBe(200);
      expect((await getWithHost(daemon.url, "/v1/health", "other.lan:22380")).status).toBe(421);
    } finally {
      await daemon.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS, type KeybridgeConfig, loadConfig } from "../../../../src/config/index.js";
import { type RunningDaemon, startDaemon, UNHANDLED_REJECTION_MESSAGE } from "../../../../src/server/daemon.js";
import { describeNeeding, Requirement } from "../../../support/require-tool.js";
import { runCli } from "../../../unit/cli/cli-harness.js";
import { until } from "../../../unit/server/notify/fake-sender.js";

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on a free loopback port; `status` decides each answer. */
async function receiver(status: (received: Received) => number = () => 204) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const entry = { url: req.url ?? "", headers: req.headers, body };
      received.push(entry);
      res.writeHead(status(entry)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port nothing listens on (and one fetch is willing to use). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return typeof address === "object" && address !== null ? address.port : 0;
}

let dir: string;
let daemon: RunningDaemon | undefined;
let hooks: Awaited<ReturnType<typeof receiver>> | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-notify-daemon-"));
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await hooks?.close();
  hooks = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const configFor = (webhooks: KeybridgeConfig["webhooks"]): KeybridgeConfig => ({
  ...CONFIG_DEFAULTS,
  dataDir: dir,
  listen: "127.0.0.1:0",
  mode: "virtual",
  registryKind: "memory",
  logLevel: "error",
  webhooks,
});

describe("webhooks on a running daemon (virtual key, real HTTP)", () => {
  it("a borrow left out while the key is unplugged is told to the webhook, signed, and its clearing too", async () => {
    hooks = await receiver();
    const secret = "5f1e0c8d2b7a4e6f9c3d1a0b8e7f6a5d";
    writeFileSync(join(dir, "hook.secret"), `${secret}\n`, { mode: 0o600 });
    daemon = await startDaemon({
      config: configFor([{ url: `${hooks.url}/hooks/ops-7f3a`, name: "ops", secretFile: join(dir, "hook.secret") }]),
    });
    const { bridge } = daemon;
    const [key] = await bridge.keys();
    const serial = key?.serial ?? "";
    const product = key?.licenses.find((license) => license.borrowable > 0)?.product ?? 0;
    await bridge.borrow({ product, client: "ws-anna", serial });
    await bridge.virtual?.unplug(serial);
    await until(() => hooks?.received.some((r) => r.headers["x-keybridge-event"] === "risk.raised") === true);
    await bridge.virtual?.plug(serial);
    await until(() => hooks?.received.some((r) => r.headers["x-keybridge-event"] === "risk.cleared") === true);

    const raised = hooks.received.find((r) => r.headers["x-keybridge-event"] === "risk.raised") as Received;
    expect(raised.url).toBe("/hooks/ops-7f3a");
    const event = JSON.parse(raised.body) as Record<string, unknown>;
    expect(event).toMatchObject({
      type: "risk.raised",
      serial,
      risk: { kind: "key-unplugged", severity: "critical", borrowIds: [expect.any(Number)] },
    });
    expect(raised.headers["x-keybridge-delivery"]).toBe(event.id);
    expect(raised.headers["content-type"]).toBe("application/json");
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(raised.headers["x-keybridge-signature"])) ?? [];
    expect(v1).toBe(createHmac("sha256", secret).update(`${t}.${raised.body}`).digest("hex"));
    // Only the default events: the borrow itself and the key's detach are not sent.
    expect(new Set(hooks.received.map((r) => r.headers["x-keybridge-event"]))).toEqual(
      new Set(["risk.raised", "risk.cleared"]),
    );

    const token = readFileSync(join(dir, "api-token"), "utf8").trim();
    const listed = await fetch(`${daemon.url}/v1/notify`, { headers: { authorization: `Bearer ${token}` } });
    const { webhooks } = (await listed.json()) as { webhooks: Record<string, unknown>[] };
    expect(webhooks).toEqual([
      expect.objectContaining({ name: "ops", url: `${hooks.url}/…`, signed: true, delivered: 2, failed: 0 }),
    ]);
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    expect(metrics).toMatch(/^keybridge_notifications_total\{webhook="ops",outcome="delivered"\} 2$/m);
    expect(metrics).toMatch(/^keybridge_notifications_pending\{webhook="ops"\} 0$/m);
    expect(metrics).not.toContain("ops-7f3a");
  });

  it("notify and notify test through the CLI: a dead webhook fails the test with exit 1, a live one passes", async () => {
    hooks = await receiver();
    const dead = await closedPort();
    daemon = await startDaemon({
      config: configFor([
        { url: `${hooks.url}/in`, name: "live", format: "text" },
        { url: `http://127.0.0.1:${dead}/x`, name: "dead", events: ["risk.*", "borrow.dummy"] },
      ]),
    });
    const listing = await runCli(["notify"], {}, dir);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(
      /^live\s+http:\/\/127\.0\.0\.1:\d+\/…\s+risk\.raised,risk\.cleared,borrow\.dummy\s+-\s+0/m,
    );
    expect(listing.stdout).toContain("dead");

    const tested = await runCli(["notify", "test", "--json"], {}, dir);
    expect(tested.code).toBe(1);
    expect(tested.json).toEqual([
      expect.objectContaining({ name: "live", ok: true, result: "HTTP 204" }),
      expect.objectContaining({ name: "dead", ok: false, result: expect.stringContaining("ECONNREFUSED") }),
    ]);
    expect(JSON.parse(hooks.received[0]?.body ?? "{}")).toEqual({
      text: expect.stringMatching(/^keybridge on .+: notify\.test: a test notification/),
    });

    const status = await runCli(["status"], {}, dir);
    expect(status.stdout).toContain("Notifications: 2 webhook(s), FAILING: dead (keybridge notify test dead)");
    const statusJson = await runCli(["status", "--json"], {}, dir);
    expect(Object.keys(statusJson.json as object)).not.toContain("webhooks");

    const one = await runCli(["notify", "test", "live"], {}, dir);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain("All 1 webhook(s) took the test notification.");
    const unknown = await runCli(["notify", "test", "pager"], {}, dir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no webhook named 'pager'; configured: live, dead");
    expect(unknown.stderr).toContain("[WEBHOOK_NOT_FOUND]");
  });

  it("without webhooks, notify says how to add one and notify test sends nothing", async () => {
    daemon = await startDaemon({ config: configFor([]) });
    const listing = await runCli(["notify"], {}, dir);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toContain("No webhooks are configured");
    expect((await runCli(["status"], {}, dir)).stdout).toContain("Notifications: no webhooks");
    // Nothing tested is not a success: exit 1 and the reason, also for scripts.
    const tested = await runCli(["notify", "test", "--json"], {}, dir);
    expect(tested).toMatchObject({ code: 1, stdout: "" });
    expect(JSON.parse(tested.stderr)).toMatchObject({ error: { code: "NO_WEBHOOKS" } });
    const readable = await runCli(["notify", "test"], {}, dir);
    expect(readable.code).toBe(1);
    expect(readable.stderr).toMatch(
      /^error: no webhook is configured, so nothing was tested\. Add one to keybridge\.json/,
    );
  });

  it("refuses to start when a webhook's secret file cannot be read, naming it", async () => {
    const missing = join(dir, "nope.secret");
    await expect(
      startDaemon({ config: configFor([{ url: "http://127.0.0.1:9/x", secretFile: missing }]) }),
    ).rejects.toMatchObject({
      code: "NOTIFY_SETUP_FAILED",
      message: expect.stringContaining(missing),
    });
  });
});

describe("webhooks in the configuration", () => {
  it("KEYBRIDGE_WEBHOOKS takes URLs separated by commas or a JSON list", () => {
    const urls = loadConfig({
      env: { KEYBRIDGE_DATA_DIR: dir, KEYBRIDGE_WEBHOOKS: "https://a.example/x, http://b.example/y" },
    });
    expect(urls.config.webhooks).toEqual([{ url: "https://a.example/x" }, { url: "http://b.example/y" }]);
    expect(urls.sources.webhooks).toBe("env KEYBRIDGE_WEBHOOKS");
    const list = loadConfig({
      env: {
        KEYBRIDGE_DATA_DIR: dir,
        KEYBRIDGE_WEBHOOKS: '[{"url":"https://a.example/x","events":["risk.*"],"format":"text"}]',
      },
    });
    expect(list.config.webhooks).toEqual([{ url: "https://a.example/x", events: ["risk.*"], format: "text" }]);
  });

  it("names the webhook and the field that is wrong", () => {
    const cases: [unknown, string][] = [
      [[{ url: "ftp://a.example/" }], "webhooks[0].url"],
      [[{ url: "https://a.example/", format: "xml" }], "webhooks[0].format"],
      [[{ url: "https://a.example/", holdMs: -5 }], "webhooks[0].holdMs"],
      [[{ url: "https://a.example/" }, { url: "https://b.example/", event: ["risk.raised"] }], "webhooks[1]"],
    ];
    for (const [webhooks, where] of cases) {
      writeFileSync(join(dir, "keybridge.json"), JSON.stringify({ webhooks }));
      expect(() => loadConfig({ env: { KEYBRIDGE_DATA_DIR: dir } })).toThrow(
        expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringContaining(where) }),
      );
    }
  });

  it("keybridge config shows where each webhook goes, never its path, in text and JSON", async () => {
    writeFileSync(
      join(dir, "keybridge.json"),
      JSON.stringify({ webhooks: [{ url: "https://hooks.example.com/services/T0/SECRET123", name: "chat" }] }),
    );
    const text = await runCli(["config"], { KEYBRIDGE_DATA_DIR: dir });
    expect(text.stdout).toMatch(/webhooks\s+chat → https:\/\/hooks\.example\.com\/… \(default events\)/);
    const json = await runCli(["config", "--json"], { KEYBRIDGE_DATA_DIR: dir });
    expect(json.stdout).not.toContain("SECRET123");
    expect((json.json as { config: KeybridgeConfig }).config.webhooks).toEqual([
      { url: "https://hooks.example.com/…", name: "chat" },
    ]);
  });
});

describe("the notify routes", () => {
  it("POST /v1/notify/test needs no body, takes ?name=, and validates it", async () => {
    const { startHarness } = await import("../../../unit/server/helpers.js");
    const h = await startHarness();
    try {
      expect(await (await h.api("/v1/notify/test", { method: "POST" })).json()).toEqual({ results: [] });
      const bad = await h.api("/v1/notify/test?name=a%20b", { method: "POST" });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ code: "VALIDATION", field: "name" });
      const unknown = await h.api("/v1/notify/test?name=ops", { method: "POST" });
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ code: "WEBHOOK_NOT_FOUND" });
      expect(await (await h.api("/v1/notify")).json()).toEqual({ webhooks: [] });
    } finally {
      await h.close();
    }
  });
});

const bin = resolvePath("dist/src/cli/main.js");
const build = Requirement.build(bin);

describeNeeding(build, "keybridge serve with webhooks (spawned)", () => {
  it("logs where each webhook goes and why a delivery failed, never its path, query or secret", async () => {
    const dead = await closedPort();
    const apiPort = await closedPort();
    const secret = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    writeFileSync(join(dir, "hook.secret"), secret, { mode: 0o600 });
    const webhooks = JSON.stringify([
      {
        url: `http://127.0.0.1:${dead}/services/T0SECRET/B0SECRET?sig=QSECRET`,
        name: "chat",
        secretFile: join(dir, "hook.secret"),
      },
    ]);
    const daemon = spawn(
      process.execPath,
      [bin, "serve", "--virtual", "--data-dir", dir, "--listen", `127.0.0.1:${apiPort}`],
      {
        env: { ...process.env, KEYBRIDGE_LOG_LEVEL: "debug", KEYBRIDGE_WEBHOOKS: webhooks, VITEST: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let logs = "";
    daemon.stdout.on("data", (chunk: Buffer) => {
      logs += chunk.toString();
    });
    daemon.stderr.on("data", (chunk: Buffer) => {
      logs += chunk.toString();
    });
    const exited = new Promise<number | null>((resolveExit) => daemon.on("exit", (code) => resolveExit(code)));
    try {
      await until(() => logs.includes("keybridge daemon listening"), 20_000);
      const borrowed = await runCli(["borrow", "1001", "--client", "ws-log", "--json"], {}, dir);
      expect(borrowed.code, borrowed.stderr).toBe(0);
      expect((await runCli(["virtual", "unplug", "KB-DEMO-0001"], {}, dir)).code).toBe(0);
      await until(() => logs.includes("notification not delivered; trying again"), 10_000);
      daemon.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(logs).toContain(`chat (http://127.0.0.1:${dead}/…)`);
      expect(logs).toMatch(/ECONNREFUSED/);
      for (const hidden of ["T0SECRET", "B0SECRET", "QSECRET", secret]) expect(logs).not.toContain(hidden);
      // A rejection nobody handled is logged by the daemon (which stays up): here it is a failure.
      expect(logs).not.toContain(UNHANDLED_REJECTION_MESSAGE);
    } finally {
      if (daemon.exitCode === null) daemon.kill("SIGKILL");
    }
  }, 60_000);
});

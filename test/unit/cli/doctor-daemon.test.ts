import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveEndpoint } from "../../../src/cli/client.js";
import { checkDaemon, daemonCheck } from "../../../src/cli/doctor/daemon-check.js";
import { runCheck } from "../../../src/cli/doctor/run-checks.js";
import { type Harness, startHarness, TOKEN } from "../server/helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const daemonFile = { path: "/var/lib/keybridge/daemon.json", found: true };
const endpoint = (url: string, token: string | null = TOKEN) =>
  resolveEndpoint({ url, dataDir: "/nonexistent" }, token === null ? {} : { KEYBRIDGE_TOKEN: token });
const signal = () => new AbortController().signal;

describe("daemon check", () => {
  it("is ok when the daemon answers, and reports mode, keys and health from its status", async () => {
    const result = await checkDaemon({ endpoint: endpoint(h.url), daemonFile }, signal());
    expect(result.status, result.detail).toBe("ok");
    expect(result.detail).toContain(`answers at ${h.url} (from ${daemonFile.path})`);
    expect(result.detail).toMatch(/virtual mode, 1 of 1 key present, 0 borrows out; ledger healthy/);
    expect(result.detail).toMatch(/no open risks/);
  });

  it("warns about open risks and points at keybridge status", async () => {
    const borrowed = await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws-07" } });
    expect(borrowed.status).toBe(201);
    await h.bridge.virtual?.unplug("KB-0001");
    const result = await checkDaemon({ endpoint: endpoint(h.url), daemonFile }, signal());
    expect(result.status).toBe("warn");
    expect(result.detail).toMatch(/1 open risk: key-unplugged/);
    expect(result.detail).toMatch(/0 of 1 key present, 1 borrow out/);
    expect(result.fix?.split("\n")[0]).toBe("see keybridge status");
  });

  it("warns when borrows are out and the ledger was never exported, or not for two days", async () => {
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws-07" } });
    const never = await checkDaemon({ endpoint: endpoint(h.url), daemonFile }, signal());
    expect(never.status).toBe("warn");
    expect(never.detail).toMatch(/1 borrow out and the ledger was never exported/);
    expect(never.fix).toMatch(/keybridge ledger export FILE.*keybridge-export\.timer/);

    expect((await h.api("/v1/ledger/export")).status).toBe(200);
    const fresh = await checkDaemon({ endpoint: endpoint(h.url), daemonFile }, signal());
    expect(fresh.status, fresh.detail).toBe("ok");
    expect(fresh.detail).toMatch(/ledger last exported \d{4}-/);
    const threeDaysOn = () => Date.now() + 3 * 86_400_000;
    const stale = await checkDaemon({ endpoint: endpoint(h.url), daemonFile, now: threeDaysOn }, signal());
    expect(stale.status).toBe("warn");
    expect(stale.detail).toMatch(/last exported .*, 3 days ago/);
  });

  it("names a webhook whose deliveries failed, with the test command as the fix", async () => {
    const hook = {
      url: "https://hooks.example.com/…",
      events: ["risk.raised"],
      format: "json" as const,
      signed: false,
      retried: 6,
      pending: 0,
      suppressed: 0,
      holdMs: 0,
    };
    const webhooks = async () => [
      { ...hook, name: "chat", delivered: 3, failed: 0, dropped: 0, last: null },
      {
        ...hook,
        name: "pager",
        delivered: 1,
        failed: 2,
        dropped: 0,
        last: { at: "2026-11-28T09:00:00.000Z", ok: false, type: "risk.raised", result: "HTTP 500" },
      },
    ];
    const result = await checkDaemon({ endpoint: endpoint(h.url), daemonFile, webhooks }, signal());
    expect(result.status).toBe("warn");
    expect(result.detail).toContain(
      "webhook pager (https://hooks.example.com/…): 2 failed, 0 dropped, last failed: HTTP 500",
    );
    expect(result.detail).not.toContain("webhook chat");
    expect(result.fix).toBe("keybridge notify test pager");
    const none = await checkDaemon({ endpoint: endpoint(h.url), daemonFile }, signal());
    expect(none.detail).toMatch(/no webhooks \(risks reach only those who watch/);
  });

  it("skips the webhook finding for a daemon without /v1/notify (an older version)", async () => {
    const status = await (await h.api("/v1/status")).text();
    const older = createServer((req, res) => {
      if (req.url === "/v1/health") return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
      if (req.url === "/v1/status") return void res.writeHead(200, { "content-type": "application/json" }).end(status);
      res
        .writeHead(404, { "content-type": "application/problem+json" })
        .end('{"code":"NOT_FOUND","detail":"no route"}');
    });
    await new Promise<void>((resolve) => older.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(older.address() as AddressInfo).port}`;
    try {
      const result = await checkDaemon({ endpoint: endpoint(url), daemonFile }, signal());
      expect(result.status, result.detail).toBe("ok");
      expect(result.detail).not.toMatch(/webhook/);
    } finally {
      older.closeAllConnections();
      await new Promise((resolve) => older.close(resolve));
    }
  });

  it("fails when the daemon refuses the token", async () => {
    const result = await checkDaemon({ endpoint: endpoint(h.url, "wrong-token"), daemonFile }, signal());
    expect(result.status).toBe("fail");
    expect(result.detail).toMatch(/refuses the API token \(401\)/);
  });

  it("warns when the daemon answers but no token is readable", async () => {
    const result = await checkDaemon({ endpoint: endpoint(h.url, null), daemonFile }, signal());
    expect(result.status).toBe("warn");
    expect(result.fix).toMatch(/KEYBRIDGE_TOKEN/);
  });

  it("warns that the daemon is not running, naming a daemon.json left behind, with how to start it", async () => {
    const url = h.url;
    await h.server.close();
    const result = await checkDaemon({ endpoint: endpoint(url), daemonFile }, signal());
    expect(result.status).toBe("warn");
    expect(result.detail).toMatch(/not running/);
    expect(result.detail).toContain("is left from an earlier run");
    expect(result.fix).toBe("sudo systemctl start keybridge (or keybridge serve)");
  });

  it("fails, without hanging, on a daemon that accepts and never answers", async () => {
    const hung = createServer(() => {});
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    try {
      const result = await runCheck(daemonCheck({ endpoint: endpoint(url), daemonFile }), 100);
      expect(result.status).toBe("fail");
      expect(result.detail).toMatch(/no answer within/);
    } finally {
      hung.closeAllConnections();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  it("fails when something else answers at the daemon's address", async () => {
    const other = createServer((_req, res) => res.writeHead(404).end("not here"));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      const result = await checkDaemon({ endpoint: endpoint(url), daemonFile }, signal());
      expect(result.status).toBe("fail");
      expect(result.detail).toMatch(/answered 404/);
    } finally {
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

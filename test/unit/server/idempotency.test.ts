import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BorrowView } from "../../../src/bridge/api.js";
import { type OpenedBridge, openBridge } from "../../../src/bridge/open.js";
import { createServer, type KeybridgeServer } from "../../../src/server/app.js";
import { runCli } from "../cli/cli-harness.js";

const TOKEN = "idempotency-token-0123456789abcdefghijklmnopqrstuv";

let dataDir: string;
let bridge: OpenedBridge;
let server: KeybridgeServer;
let url: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "kb-idempotency-"));
  bridge = await openBridge({ dataDir, mode: "virtual", registry: { kind: "memory" } });
  await bridge.ready();
  server = await createServer({ bridge, token: TOKEN });
  url = await server.listen("127.0.0.1", 0);
  writeFileSync(join(dataDir, "api-token"), `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(
    join(dataDir, "daemon.json"),
    JSON.stringify({ pid: process.pid, url, started: new Date().toISOString(), mode: "virtual", version: "0" }),
  );
});

afterAll(async () => {
  await server?.close();
  await bridge?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/borrows`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function seatsOf(client: string): number {
  return (bridge.testSeams.world?.key("KB-DEMO-0001").state.borrows ?? []).filter(
    (record) => record.client === client && record.state === "active",
  ).length;
}

describe("POST /v1/borrows with an Idempotency-Key", () => {
  it("a retry answers 201 with the same borrow; a different body with the key is 422 IDEMPOTENCY_KEY_REUSED", async () => {
    const body = { product: 1001, client: "http-retry" };
    const first = await post(body, { "idempotency-key": "http-1" });
    expect(first.status).toBe(201);
    const created = (await first.json()) as BorrowView;
    const again = await post(body, { "idempotency-key": "http-1" });
    expect(again.status).toBe(201);
    expect(again.headers.get("location")).toBe(`/v1/borrows/${created.id}`);
    expect(await again.json()).toEqual(created);
    expect(seatsOf("http-retry")).toBe(1);

    const reused = await post({ product: 1001, client: "someone-else" }, { "idempotency-key": "http-1" });
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED", details: { fields: ["client"] } });
    expect(seatsOf("someone-else")).toBe(0);

    const bad = await post(body, { "idempotency-key": "has space" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "VALIDATION", details: { field: "idempotencyKey" } });
  });

  it("the CLI sends --idempotency-key: the same borrow twice, one seat", async () => {
    const args = ["borrow", "1001", "--client", "cli-retry", "--idempotency-key", "cli-1", "--json"];
    const first = await runCli(args, { HOME: dataDir }, dataDir);
    expect(first.code, first.stderr).toBe(0);
    const again = await runCli(args, { HOME: dataDir }, dataDir);
    expect(again.code, again.stderr).toBe(0);
    expect((again.json as BorrowView).id).toBe((first.json as BorrowView).id);
    expect(seatsOf("cli-retry")).toBe(1);
  });
});

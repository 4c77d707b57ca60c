import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import Transport from "winston-transport";
import type { Bridge, KeyView } from "../../../src/bridge/api.js";
import { openBridge } from "../../../src/bridge/index.js";
import { rootLogger, setLogLevel } from "../../../src/log.js";
import { createServer, type KeybridgeServer } from "../../../src/server/app.js";

const TOKEN = "load-test-token-0123456789abcdefghijklmnopqrstuvw";
const CLIENTS = 200;
const OPERATIONS = 2_000;

class Capture extends Transport {
  readonly lines: string[] = [];
  override log(info: unknown, next: () => void): void {
    this.lines.push(JSON.stringify(info));
    next();
  }
}

let dataDir: string;
let bridge: Bridge;
let server: KeybridgeServer;
let url: string;
const capture = new Capture({ level: "debug" });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "kb-load-"));
  // Debug lines go to the capture only, not to the test output.
  for (const transport of rootLogger.transports) transport.silent = true;
  rootLogger.add(capture);
  setLogLevel("debug");
  bridge = await openBridge({ dataDir, mode: "virtual", registry: { kind: "memory" } });
  await bridge.ready();
  server = await createServer({ bridge, token: TOKEN });
  url = await server.listen("127.0.0.1", 0);
});

afterAll(async () => {
  setLogLevel("error");
  rootLogger.remove(capture);
  for (const transport of rootLogger.transports) transport.silent = false;
  await server?.close();
  await bridge?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  retryAfter: string | null;
  body: unknown;
}

const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS + 8 });
async function call(method: string, path: string, json?: unknown): Promise<Answer> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const req = request(
      `${url}${path}`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(body) }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: (res.headers["retry-after"] as string | undefined) ?? null,
            body: parsed,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

it(`${CLIENTS} concurrent clients, ${OPERATIONS} borrow/return operations: seats conserved, only 503+Retry-After as 5xx, health answers`, async () => {
  const keys = (await call("GET", "/v1/keys")).body as KeyView[];
  const licenses = keys.flatMap((k) =>
    k.licenses.map((l) => ({ serial: k.serial, product: l.product, borrowable: l.borrowable })),
  );
  expect(licenses.length).toBeGreaterThan(0);

  let started = 0;
  const statuses = new Map<number, number>();
  const violations: string[] = [];
  const note = (answer: Answer, what: string) => {
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    if (answer.status >= 500 && !(answer.status === 503 && answer.retryAfter !== null)) {
      violations.push(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  };

  const client = async (n: number) => {
    const held: number[] = [];
    while (started < OPERATIONS) {
      started++;
      if (held.length > 0 && (held.length > 1 || n % 2 === 0 || started % 3 === 0)) {
        const id = held.shift()!;
        const answer = await call("DELETE", `/v1/borrows/${id}`);
        note(answer, `return ${id}`);
        if (answer.status === 503) held.push(id);
        else
          expect([200].includes(answer.status), `return ${id}: ${answer.status} ${JSON.stringify(answer.body)}`).toBe(
            true,
          );
      } else {
        const license = licenses[(n + started) % licenses.length]!;
        const answer = await call("POST", "/v1/borrows", {
          product: license.product,
          client: `c${n}`,
          serial: license.serial,
        });
        note(answer, "borrow");
        if (answer.status === 201) held.push((answer.body as { id: number }).id);
        else
          expect([409, 503].includes(answer.status), `borrow: ${answer.status} ${JSON.stringify(answer.body)}`).toBe(
            true,
          );
      }
    }
    // Give back what is still held so the final count can be checked against zero as well.
    while (held.length > 0) {
      const id = held.shift()!;
      const answer = await call("DELETE", `/v1/borrows/${id}`);
      note(answer, `final return ${id}`);
      if (answer.status === 503) {
        held.push(id);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };

  let running = true;
  let samples = 0;
  let healthChecks = 0;
  const sampler = (async () => {
    while (running) {
      const answer = await call("GET", "/v1/keys");
      expect(answer.status).toBe(200);
      for (const key of answer.body as KeyView[]) {
        for (const l of key.licenses) {
          if (l.borrowed + l.dummies > l.borrowable)
            violations.push(`over-borrowed ${key.serial}/${l.product}: ${l.borrowed}+${l.dummies} > ${l.borrowable}`);
          if (l.dummies !== 0) violations.push(`dummy appeared on ${key.serial}/${l.product}`);
        }
      }
      samples++;
      const health = await call("GET", "/v1/health");
      expect(health.status).toBe(200);
      healthChecks++;
    }
  })();

  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  running = false;
  await sampler;

  expect(violations).toEqual([]);
  expect(samples).toBeGreaterThan(0);
  expect(healthChecks).toBeGreaterThan(0);
  expect(statuses.get(201) ?? 0).toBeGreaterThan(0);
  // Every borrow was returned: the key and the API agree that nothing is out.
  const after = (await call("GET", "/v1/keys")).body as KeyView[];
  expect(after.flatMap((k) => k.licenses.map((l) => l.borrowed))).toEqual(
    after.flatMap((k) => k.licenses.map(() => 0)),
  );
  expect((await call("GET", "/v1/borrows?state=active")).body).toEqual([]);
  const metrics = (await call("GET", "/metrics")).body as string;
  expect(metrics).toMatch(/^keybridge_borrows_outstanding\{state="active"\} 0$/m);
}, 180_000);

it("the token never reaches the log, though requests were logged at debug level", () => {
  const all = capture.lines.join("\n");
  expect(capture.lines.length).toBeGreaterThan(100);
  expect(all).toContain('"route":"/v1/borrows"');
  expect(all).not.toContain(TOKEN);
  expect(all.toLowerCase()).not.toContain("bearer");
});

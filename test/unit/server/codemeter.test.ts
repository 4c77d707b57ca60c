import { afterEach, describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { createServer, type KeybridgeServer } from "../../../src/server/app.js";
import { openCodeMeterBridge, simRoot, waitForRisk } from "../bridge/codemeter-helpers.js";
import { openVirtual } from "../bridge/helpers.js";
import { TOKEN } from "./helpers.js";

const servers: KeybridgeServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function serve(bridge: OpenedBridge) {
  const server = await createServer({ bridge, token: TOKEN });
  servers.push(server);
  const url = await server.listen("127.0.0.1", 0);
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, ...init.headers },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> & unknown[] };
  };
  return Object.assign(call, { metrics: async () => (await fetch(`${url}/metrics`)).text() });
}

const THREE: [string, string, number, number][] = [
  ["ws-1", "anna", 1001, 30],
  ["ws-2", "ben", 1001, 20],
  ["ws-3", "cleo", 2001, 10],
];

describe("the HTTP API over a virtual bridge beside a simulated CodeMeter server", () => {
  it("GET /v1/codemeter answers the contract's shape", async () => {
    const { bridge, sim } = await openCodeMeterBridge({ borrows: THREE });
    const api = await serve(bridge);
    const { status, body } = await api("/v1/codemeter");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      enabled: true,
      runtime: { version: sim.runtimeVersion, serviceRunning: true },
      tracking: { enabled: true, dir: sim.paths.logDir },
      sticks: [{ serial: sim.stickSerial, present: true }],
    });
    const borrows = body.borrows as Record<string, unknown>[];
    expect(borrows).toHaveLength(3);
    for (const borrow of borrows) {
      expect(Object.keys(borrow)).toEqual(
        expect.arrayContaining([
          ...["borrowId", "serial", "firmCode", "productCode", "client", "user"],
          ...["expiresAt", "firstSeen", "lastSeen"],
        ]),
      );
      expect(borrow.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
  });

  it("a host without CodeMeter: enabled false, and no CodeMeter in status or borrows", async () => {
    const missing = simRoot();
    const bridge = await openVirtual({
      codemeter: { serverIni: `${missing}/Server.ini`, logDir: `${missing}/log`, cmu: `${missing}/cmu` },
    });
    const api = await serve(bridge);
    const { body } = await api("/v1/codemeter");
    expect(body).toMatchObject({ enabled: false, sticks: [], borrows: [], risks: [] });
    expect((await api("/v1/status")).body).not.toHaveProperty("codemeter");
    expect((await api("/v1/borrows?source=codemeter")).body).toEqual([]);
  });

  it("GET /v1/borrows lists both sources; ?source= filters; keybridge's borrows keep their fields", async () => {
    const { bridge } = await openCodeMeterBridge({ borrows: THREE });
    const api = await serve(bridge);
    const created = await api("/v1/borrows", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ product: 1001, client: "kb-ws" }),
    });
    expect(created.status).toBe(201);
    const all = (await api("/v1/borrows")).body as unknown as Record<string, unknown>[];
    expect(all.map((b) => b.source).sort()).toEqual(["codemeter", "codemeter", "codemeter", "keybridge"]);
    const own = all.find((b) => b.source === "keybridge");
    expect(own).toEqual(created.body);
    expect(Object.keys(own ?? {})).toEqual(
      expect.arrayContaining(["id", "serial", "product", "client", "issuedAt", "expiresAt", "state"]),
    );
    expect((await api("/v1/borrows?source=keybridge")).body).toHaveLength(1);
    expect((await api("/v1/borrows?source=codemeter")).body).toHaveLength(3);
  });

  it("a return of a CodeMeter borrow is refused with 409 CODEMETER_BORROW_READ_ONLY", async () => {
    const { bridge, sim } = await openCodeMeterBridge({ borrows: THREE });
    const api = await serve(bridge);
    const borrowId = sim.active()[0]?.borrowId ?? "";
    const refused = await api(`/v1/borrows/${borrowId}`, { method: "DELETE" });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: "CODEMETER_BORROW_READ_ONLY" });
    expect(String(refused.body.detail)).toContain("read-only");
    const unknown = await api("/v1/borrows/1-2-3-4", { method: "DELETE" });
    expect(unknown.status).toBe(409);
    expect(String(unknown.body.detail)).toContain("has not seen");
    // Still out, in CodeMeter's picture.
    expect(((await api("/v1/codemeter")).body.borrows as unknown[]).length).toBe(3);
  });

  it("preflight answers for both sources; a CodeMeter risk shows with its source in /v1/risks", async () => {
    const world = await openCodeMeterBridge({ borrows: THREE });
    const api = await serve(world.bridge);
    await api("/v1/borrows", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ product: 1001, client: "kb-ws", days: 2 }),
    });
    const preflight = await api("/v1/preflight/unplug-key");
    expect(preflight.body.safe).toBe(false);
    const sources = (preflight.body.borrows as { source: string }[]).map((b) => b.source).sort();
    expect(sources).toEqual(["codemeter", "codemeter", "codemeter", "keybridge"]);
    expect(preflight.body.lastEndsAt).toMatch(/^\d{4}-/);

    world.unplugStick();
    await waitForRisk(world.bridge, (risk) => risk.source === "codemeter" && risk.kind === "key-unplugged");
    const risks = (await api("/v1/risks")).body as unknown as { kind: string; source: string }[];
    expect(risks).toContainEqual(expect.objectContaining({ kind: "key-unplugged", source: "codemeter" }));
  });

  it("/metrics: keybridge_codemeter_* while the mode runs; only keybridge_codemeter_enabled 0 without CodeMeter", async () => {
    const world = await openCodeMeterBridge({ borrows: THREE });
    const api = await serve(world.bridge);
    world.unplugStick();
    await waitForRisk(world.bridge, (risk) => risk.source === "codemeter" && risk.kind === "key-unplugged");
    const text = await api.metrics();
    expect(text).toMatch(/^keybridge_codemeter_enabled 1$/m);
    expect(text).toMatch(/^keybridge_codemeter_borrows_outstanding\{state="active"\} 3$/m);
    expect(text).toMatch(/^keybridge_codemeter_borrows_outstanding\{state="missing"\} 0$/m);
    expect(text).toMatch(/^keybridge_codemeter_sticks_present 0$/m);
    expect(text).toMatch(/^keybridge_codemeter_service_running 1$/m);
    expect(text).toMatch(/^keybridge_codemeter_tracking_enabled 1$/m);
    expect(text).toMatch(/^keybridge_codemeter_log_lines_total\{outcome="parsed"\} [1-9]\d*$/m);
    expect(text).toMatch(/^keybridge_codemeter_log_lines_total\{outcome="skipped"\} 0$/m);
    expect(text).toMatch(/^keybridge_risks_open\{kind="key-unplugged",severity="critical",source="codemeter"\} 1$/m);

    const missing = simRoot();
    const plain = await openVirtual({
      codemeter: { serverIni: `${missing}/Server.ini`, logDir: `${missing}/log`, cmu: `${missing}/cmu` },
    });
    const none = await (await serve(plain)).metrics();
    expect(none).toMatch(/^keybridge_codemeter_enabled 0$/m);
    expect(none.split("\n").filter((line) => line.startsWith("keybridge_codemeter_"))).toEqual([
      "keybridge_codemeter_enabled 0",
    ]);
  });
});

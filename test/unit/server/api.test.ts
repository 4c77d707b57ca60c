import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeybridgeError } from "../../../src/errors.js";
import { ROUTES } from "../../../src/server/routes.js";
import { captureLogs } from "../log-capture.js";
import { type Harness, overriding, startHarness } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const problem = async (response: Response) => {
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return (await response.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    code: string;
    field?: string;
  };
};

describe("authentication", () => {
  it("health, metrics, openapi and the dashboard page need no token", async () => {
    for (const path of ["/v1/health", "/metrics", "/v1/openapi.json", "/"]) {
      expect((await h.api(path, { token: null })).status, path).toBe(200);
    }
  });

  it("every other route answers 401 problem+json without a token or with a wrong one", async () => {
    for (const route of ROUTES.filter((r) => r.auth !== "none")) {
      const path = route.url.replace(":id", "1").replace(":serial", "KB-0001").replace(":action", "unplug-key");
      for (const token of [null, "wrong-token"]) {
        const response = await h.api(path, { method: route.method, token });
        expect(response.status, `${route.method} ${path}`).toBe(401);
        const body = await problem(response);
        expect(body.code).toBe("UNAUTHORIZED");
      }
    }
  });

  it("accepts ?token= on /v1/events only", async () => {
    const response = await fetch(
      `${h.url}/v1/status?token=${encodeURIComponent("test-token-0123456789abcdefghijklmnopqrstuv")}`,
    );
    expect(response.status).toBe(401);
  });
});

describe("borrows", () => {
  it("borrow → 201 with the borrow shape, listed, fetched, returned, then 404", async () => {
    const created = await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws-07", days: 7 } });
    expect(created.status).toBe(201);
    const borrow = (await created.json()) as Record<string, unknown>;
    expect(borrow).toMatchObject({ serial: "KB-0001", product: 1001, client: "ws-07", state: "active" });
    expect(Date.parse(borrow.expiresAt as string) - Date.parse(borrow.issuedAt as string)).toBe(7 * 86_400_000);
    expect(created.headers.get("location")).toBe(`/v1/borrows/${borrow.id}`);

    const list = (await (await h.api("/v1/borrows")).json()) as { id: number }[];
    expect(list.map((b) => b.id)).toEqual([borrow.id]);
    expect(await (await h.api(`/v1/borrows/${borrow.id}`)).json()).toEqual(borrow);

    const returned = await h.api(`/v1/borrows/${borrow.id}`, { method: "DELETE" });
    expect(returned.status).toBe(200);
    expect(await returned.json()).toEqual({ borrow: { ...borrow, state: "returned" }, outcome: "returned" });
    expect(await (await h.api("/v1/borrows")).json()).toEqual([]);
    const again = await h.api(`/v1/borrows/${borrow.id}`, { method: "DELETE" });
    expect(again.status).toBe(409);
    expect((await problem(again)).code).toBe("ALREADY_RETURNED");
    const never = await h.api("/v1/borrows/4242", { method: "DELETE" });
    expect(never.status).toBe(404);
    expect((await problem(never)).code).toBe("UNKNOWN_BORROW");
    expect((await h.api("/v1/borrows/4242")).status).toBe(404);
  });

  it("filters the list by serial and state", async () => {
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "a" } });
    expect(await (await h.api("/v1/borrows?state=dummy")).json()).toEqual([]);
    expect(((await (await h.api("/v1/borrows?state=active&serial=KB-0001")).json()) as unknown[]).length).toBe(1);
    expect(await (await h.api("/v1/borrows?serial=OTHER")).json()).toEqual([]);
    const bad = await h.api("/v1/borrows?state=lost");
    expect(bad.status).toBe(400);
    expect((await problem(bad)).detail).toMatch(/^state: /);
  });

  it("refuses a borrow beyond borrowable with 409 NO_BORROWABLE", async () => {
    for (let i = 0; i < 2; i++) {
      expect((await h.api("/v1/borrows", { method: "POST", json: { product: 1002, client: `c${i}` } })).status).toBe(
        201,
      );
    }
    const refused = await h.api("/v1/borrows", { method: "POST", json: { product: 1002, client: "c3" } });
    expect(refused.status).toBe(409);
    const body = await problem(refused);
    expect(body).toMatchObject({ status: 409, code: "NO_BORROWABLE", title: "Conflict" });
    expect(body.detail).toMatch(/No more licenses/);
  });

  it("validation errors name the field and the reason", async () => {
    const cases: [unknown, string][] = [
      [{ client: "x" }, "product: required field is missing (body)"],
      [{ product: "1001", client: "x" }, "product: expected an integer (body)"],
      [{ product: 1001, client: "" }, "client: must NOT have fewer than 1 characters (body)"],
      [{ product: 1001, client: "x", days: 0 }, "days: must be >= 1 (body)"],
      [{ product: 1001, client: "x", colour: "red" }, "colour: unknown field (body)"],
      [[1, 2], "body: expected an object (body)"],
    ];
    for (const [json, detail] of cases) {
      const response = await h.api("/v1/borrows", { method: "POST", json });
      expect(response.status, detail).toBe(400);
      const body = await problem(response);
      expect(body.code).toBe("VALIDATION");
      expect(body.detail).toBe(detail);
    }
  });

  it("malformed JSON → 400 MALFORMED_JSON; body over 64 KiB → 413", async () => {
    const malformed = await h.api("/v1/borrows", {
      method: "POST",
      body: '{"product":',
      headers: { "content-type": "application/json" },
    });
    expect(malformed.status).toBe(400);
    expect((await problem(malformed)).code).toBe("MALFORMED_JSON");
    const big = await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x".repeat(70 * 1024) } });
    expect(big.status).toBe(413);
    expect((await problem(big)).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("a bad borrow id in the path is a 400 naming the parameter", async () => {
    const response = await h.api("/v1/borrows/abc");
    expect(response.status).toBe(400);
    expect((await problem(response)).detail).toBe("id: has the wrong format (path parameter)");
  });
});

describe("errors", () => {
  it("key absent → 503 with Retry-After", async () => {
    await h.api("/v1/virtual/keys/KB-0001/unplug", { method: "POST" });
    const response = await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x" } });
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await problem(response)).code).toBe("KEY_ABSENT");
  });

  /** A server whose bridge fails every borrow with `error`: failures the virtual bridge does not make by itself. */
  const failingBorrows = (error: Error) =>
    startHarness({
      serve: (bridge) =>
        overriding(bridge, {
          borrow: async () => {
            throw error;
          },
        }),
    });

  it("queue full → 503 with Retry-After", async () => {
    const failing = await failingBorrows(new KeybridgeError("TRANSPORT_QUEUE_FULL", "too many callers"));
    const response = await failing
      .api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x" } })
      .finally(() => failing.close());
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
  });

  it("an unexpected failure → 500 INTERNAL without its message", async () => {
    const logs = captureLogs();
    const failing = await failingBorrows(new Error("sqlite: secret path /root/x exploded"));
    const response = await failing
      .api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x" } })
      .finally(() => failing.close());
    expect(response.status).toBe(500);
    const body = await problem(response);
    expect(body.code).toBe("INTERNAL");
    expect(JSON.stringify(body)).not.toMatch(/secret|sqlite/);
    // The log, not the answer, keeps the details for the operator.
    expect(logs.matching("error", /^request failed$/)).toMatchObject([
      { method: "POST", route: "/v1/borrows", error: "sqlite: secret path /root/x exploded" },
    ]);
  });

  it("unknown routes → 404 problem+json", async () => {
    const response = await h.api("/v1/nothing-here");
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe("NOT_FOUND");
  });
});

describe("other routes", () => {
  it("status, keys and risks have the contract's shapes", async () => {
    const status = (await (await h.api("/v1/status")).json()) as Record<string, unknown>;
    expect(Object.keys(status)).toEqual(expect.arrayContaining(["keys", "borrows", "dummies", "risks"]));
    const keys = (await (await h.api("/v1/keys")).json()) as { licenses: Record<string, unknown>[] }[];
    expect(Object.keys(keys[0]!)).toEqual(expect.arrayContaining(["serial", "present", "licenses"]));
    expect(Object.keys(keys[0]!.licenses[0]!)).toEqual(
      expect.arrayContaining(["product", "seats", "borrowable", "borrowed", "dummies"]),
    );
    expect(await (await h.api("/v1/risks")).json()).toEqual([]);
  });

  it("preflight: a verdict for known actions, 400 for unknown ones", async () => {
    expect(await (await h.api("/v1/preflight/unplug-key")).json()).toMatchObject({ action: "unplug-key", safe: true });
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x" } });
    const unsafe = (await (await h.api("/v1/preflight/unplug-key")).json()) as { safe: boolean; reasons: string[] };
    expect(unsafe.safe).toBe(false);
    expect(unsafe.reasons.length).toBe(1);
    const unknown = await h.api("/v1/preflight/dance");
    expect(unknown.status).toBe(400);
    expect((await problem(unknown)).code).toBe("UNKNOWN_PREFLIGHT_ACTION");
  });

  it("reconcile, repair and migrate answer their views", async () => {
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x" } });
    const reconcile = (await (await h.api("/v1/reconcile")).json()) as { findings: { severity: string }[] };
    expect(reconcile.findings.every((f) => f.severity === "info")).toBe(true);
    const repair = (await (await h.api("/v1/reconcile/repair", { method: "POST" })).json()) as Record<string, unknown>;
    expect(repair).toHaveProperty("applied");
    const migrate = (await (await h.api("/v1/migrate", { method: "POST" })).json()) as { items: unknown[] };
    expect(migrate.items).toHaveLength(1);
  });

  it("license update: validated, refused with borrows out (409), forced makes dummies", async () => {
    const licenses = [{ product: 1001, seats: 20, borrowable: 8, borrowDays: 30 }];
    const invalid = await h.api("/v1/keys/KB-0001/license-update", {
      method: "POST",
      json: { licenses: [{ product: 1 }] },
    });
    expect(invalid.status).toBe(400);
    expect((await problem(invalid)).detail).toBe("licenses[0].seats: required field is missing (body)");
    expect((await h.api("/v1/keys/KB-0001/license-update", { method: "POST", json: { licenses } })).status).toBe(200);
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x" } });
    const refused = await h.api("/v1/keys/KB-0001/license-update", { method: "POST", json: { licenses } });
    expect(refused.status).toBe(409);
    expect((await problem(refused)).code).toBe("BORROWS_OUTSTANDING");
    const forced = await h.api("/v1/keys/KB-0001/license-update", { method: "POST", json: { licenses, force: true } });
    expect(((await forced.json()) as { dummiesCreated: unknown[] }).dummiesCreated).toHaveLength(1);
    expect(((await (await h.api("/v1/borrows?state=dummy")).json()) as unknown[]).length).toBe(1);
  });

  it("ledger export returns a file body that import accepts; conflicts without force", async () => {
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x" } });
    const exported = await h.api("/v1/ledger/export");
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-disposition")).toMatch(/attachment/);
    const text = await exported.text();
    expect((await h.api("/v1/ledger/import", { method: "POST", body: text })).status).toBe(200);
    // A borrow made since the export is outstanding here and not in the file: importing it would lose it.
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "y" } });
    const conflict = await h.api("/v1/ledger/import", {
      method: "POST",
      body: text,
      headers: { "content-type": "text/plain" },
    });
    expect(conflict.status).toBe(409);
    const forced = await h.api("/v1/ledger/import?force=true", { method: "POST", body: text });
    expect(forced.status).toBe(200);
    expect(await forced.json()).toMatchObject({ borrows: 1 });
    const garbage = await h.api("/v1/ledger/import?force=true", { method: "POST", body: "not an export" });
    expect(garbage.status).toBe(400);
  });

  it("ledger import accepts bodies over 64 KiB (up to 16 MiB), other routes do not", async () => {
    // An export with whitespace after it is the same document, and larger than any JSON body may be.
    const big = `${await (await h.api("/v1/ledger/export")).text()}${" ".repeat(200 * 1024)}`;
    const response = await h.api("/v1/ledger/import", { method: "POST", body: big });
    expect(response.status).toBe(200);
    const tooBig = await h.api("/v1/ledger/import", { method: "POST", body: "x".repeat(16 * 1024 * 1024 + 10) });
    expect(tooBig.status).toBe(413);
  });

  it("openapi document lists every route with its method", async () => {
    const doc = (await (await h.api("/v1/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    for (const route of ROUTES) {
      const path = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
      expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${route.url}`).toBeDefined();
    }
    const borrow = doc.paths["/v1/borrows"]?.post as {
      requestBody: { content: Record<string, { schema: { required: string[] } }> };
    };
    expect(borrow.requestBody.content["application/json"]?.schema.required).toEqual(["product", "client"]);
  });

  it("the dashboard page is served with a strict content security policy", async () => {
    const response = await h.api("/", { token: null });
    expect(response.headers.get("content-type")).toMatch(/text\/html/);
    expect(response.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    expect(await response.text()).toMatch(/<title>keybridge/);
  });
});

describe("virtual routes", () => {
  it("create, plug, unplug, clock, host and wipe work in virtual mode", async () => {
    const created = await h.api("/v1/virtual/keys", { method: "POST", json: { serial: "KB-0009" } });
    expect(created.status).toBe(201);
    expect(((await (await h.api("/v1/virtual/keys")).json()) as unknown[]).length).toBe(2);
    expect(await (await h.api("/v1/virtual/keys/KB-0009/unplug", { method: "POST" })).json()).toMatchObject({
      plugged: false,
    });
    expect(await (await h.api("/v1/virtual/keys/KB-0009/plug", { method: "POST" })).json()).toMatchObject({
      plugged: true,
    });
    const before = Date.now();
    const clock = (await (await h.api("/v1/virtual/clock", { method: "POST", json: { advance: "31d" } })).json()) as {
      keyTime: string;
    };
    expect(Date.parse(clock.keyTime) - before).toBeGreaterThanOrEqual(31 * 86_400_000);
    const bad = await h.api("/v1/virtual/clock", { method: "POST", json: { advance: "soon" } });
    expect(bad.status).toBe(400);
    expect((await problem(bad)).detail).toMatch(/^advance: /);
    expect(
      await (await h.api("/v1/virtual/host", { method: "POST", json: { ip: "192.0.2.99" } })).json(),
    ).toMatchObject({
      ips: ["192.0.2.99"],
    });
    expect(await (await h.api("/v1/virtual/registry/wipe", { method: "POST" })).json()).toEqual({ wiped: true });
  });

  it("a borrow past its period settles after the virtual clock moves", async () => {
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "x", days: 1 } });
    // Past its expiry, inside the key's settle window (a day): keybridge settles it before the key makes a dummy.
    await h.api("/v1/virtual/clock", { method: "POST", json: { advance: 25 * 3_600_000 } });
    expect(await (await h.api("/v1/borrows")).json()).toEqual([]);
  });

  it("are absent (404) in real mode", async () => {
    // Real mode with no key attached: the routes are what differs, so the virtual bridge plays it.
    const real = await startHarness({ serve: (bridge) => overriding(bridge, { mode: "real", virtual: undefined }) });
    try {
      for (const path of ["/v1/virtual/keys", "/v1/virtual/keys/KB-0001/unplug", "/v1/virtual/clock"]) {
        const response = await real.api(path, { method: path === "/v1/virtual/keys" ? "GET" : "POST" });
        expect(response.status, path).toBe(404);
      }
    } finally {
      await real.close();
    }
  });
});

it("ten borrows at once of a product with two borrowable seats: two are made, eight are 409", async () => {
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      h.api("/v1/borrows", { method: "POST", json: { product: 1002, client: `c${i}` } }),
    ),
  );
  expect(answers.map((answer) => answer.status).sort()).toEqual([201, 201, ...Array(8).fill(409)]);
  expect((await h.bridge.borrows()).length).toBe(2);
});

describe("event history", () => {
  it("lists this run's events oldest first, after a seq and at most `limit`, with the run id", async () => {
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws-1" } });
    await h.api("/v1/virtual/keys/KB-0001/unplug", { method: "POST" });
    await h.api("/v1/virtual/keys/KB-0001/plug", { method: "POST" });
    const all = (await (await h.api("/v1/events/history")).json()) as {
      runId: string;
      lastSeq: number;
      truncated: boolean;
      events: { seq: number; type: string }[];
    };
    expect(all.truncated).toBe(false);
    expect(all.events.map((event) => event.seq)).toEqual(all.events.map((_, i) => i + 1));
    expect(all.events.map((event) => event.type)).toEqual(
      expect.arrayContaining(["borrow.created", "key.detached", "key.attached"]),
    );
    expect(all.lastSeq).toBe(all.events.length);
    const tail = (await (await h.api(`/v1/events/history?after=1&limit=1`)).json()) as typeof all;
    expect(tail.events.map((event) => event.seq)).toEqual([all.lastSeq]);
    expect(tail.truncated).toBe(all.lastSeq > 2);
    expect(tail.runId).toBe(all.runId);
  });

  it("refuses a malformed after or limit with 400 problem+json naming the field", async () => {
    for (const query of ["after=-1", "limit=abc", "limit=99999", "since=3"]) {
      const response = await h.api(`/v1/events/history?${query}`);
      expect(response.status, query).toBe(400);
      expect((await problem(response)).code, query).toBe("VALIDATION");
    }
  });
});

describe("audit trail", () => {
  it("lists entries newest first, filtered by kind, key and time, paged with before", async () => {
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws-1" } });
    const licenses = [
      { product: 1001, seats: 10, borrowable: 4, borrowDays: 30 },
      { product: 1003, seats: 10, borrowable: 4, borrowDays: 30 },
    ];
    await h.api("/v1/keys/KB-0001/license-update", { method: "POST", json: { licenses, force: true } });
    expect((await h.api("/v1/borrows", { method: "POST", json: { product: 1003, client: "ws-2" } })).status).toBe(201);
    await h.api("/v1/keys/KB-0001/license-update", { method: "POST", json: { licenses, force: true } });
    type Entry = { id: number; kind: string; serial: string };
    const all = (await (await h.api("/v1/audit")).json()) as Entry[];
    const ids = all.map((entry) => entry.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(all[0]).toMatchObject({ kind: "license-update-forced", serial: "KB-0001" });
    const forced = (await (await h.api("/v1/audit?kind=license-update-forced")).json()) as Entry[];
    expect(forced.map((entry) => entry.kind)).toEqual(["license-update-forced", "license-update-forced"]);
    const page = (await (
      await h.api(`/v1/audit?before=${forced[0]!.id}&kind=license-update-forced&limit=1`)
    ).json()) as {
      id: number;
    }[];
    expect(page.map((entry) => entry.id)).toEqual([forced[1]!.id]);
    expect(await (await h.api("/v1/audit?serial=KB-9999")).json()).toEqual([]);
    expect(await (await h.api("/v1/audit?kind=repair")).json()).toEqual([]);
    const future = encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString());
    expect(await (await h.api(`/v1/audit?since=${future}`)).json()).toEqual([]);
  });

  it("refuses a malformed query with 400 problem+json", async () => {
    for (const query of ["limit=0", "limit=x", "before=-3", "kind=DROP%20TABLE", "what=1"]) {
      const response = await h.api(`/v1/audit?${query}`);
      expect(response.status, query).toBe(400);
      expect((await problem(response)).code, query).toBe("VALIDATION");
    }
  });
});

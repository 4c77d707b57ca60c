import { Type } from "@sinclair/typebox";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { LazyCompilers } from "../../../src/server/lazy-compilers.js";

const Body = Type.Object(
  { product: Type.Integer({ minimum: 1 }), days: Type.Integer({ minimum: 1, default: 30 }) },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String({ pattern: "^[0-9]+$" }) });

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** The same server options as the daemon's, with the deferred compilers. */
async function appWith(compilers: LazyCompilers): Promise<FastifyInstance> {
  app = Fastify({
    logger: false,
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true } },
    schemaController: { compilersFactory: compilers.factory },
  });
  app.post("/things/:id", { schema: { body: Body, params: Params } }, async (request) => ({
    params: request.params,
    body: request.body,
  }));
  app.get("/plain", async () => ({ ok: true }));
  await app.ready();
  return app;
}

async function exercise(server: FastifyInstance) {
  const ok = await server.inject({ method: "POST", url: "/things/7", payload: { product: 1001 } });
  const missing = await server.inject({ method: "POST", url: "/things/7", payload: {} });
  const unknown = await server.inject({ method: "POST", url: "/things/7", payload: { product: 1, colour: "red" } });
  const badParam = await server.inject({ method: "POST", url: "/things/x7", payload: { product: 1 } });
  // The server's ajv options reach the compiler: coerceTypes is off, so a numeric string is refused.
  const stringProduct = await server.inject({ method: "POST", url: "/things/7", payload: { product: "1001" } });
  return {
    ok: { status: ok.statusCode, body: ok.json() },
    missing: { status: missing.statusCode, message: missing.json().message },
    unknown: { status: unknown.statusCode, message: unknown.json().message },
    badParam: { status: badParam.statusCode, message: badParam.json().message },
    stringProduct: { status: stringProduct.statusCode, message: stringProduct.json().message },
  };
}

describe("deferred request-schema compilers", () => {
  it("compile nothing at start: one pending validator per schema part of each route", async () => {
    const compilers = new LazyCompilers();
    await appWith(compilers);
    expect(compilers.pendingCount).toBe(2);
  });

  it("validate on first use exactly as ajv does: defaults filled, missing and unknown fields and bad params refused", async () => {
    const result = await exercise(await appWith(new LazyCompilers()));
    expect(result.ok).toEqual({ status: 200, body: { params: { id: "7" }, body: { product: 1001, days: 30 } } });
    expect(result.missing.status).toBe(400);
    expect(result.missing.message).toMatch(/must have required property 'product'/);
    expect(result.unknown.status).toBe(400);
    expect(result.unknown.message).toMatch(/must NOT have additional properties/);
    expect(result.badParam.status).toBe(400);
    expect(result.badParam.message).toMatch(/params\/id must match pattern/);
    expect(result.stringProduct.status).toBe(400);
    expect(result.stringProduct.message).toMatch(/body\/product must be integer/);
  });

  it("answer the same after the background warm-up compiled every validator", async () => {
    const lazyResult = await exercise(await appWith(new LazyCompilers()));
    await app?.close();

    const warmed = new LazyCompilers();
    const server = await appWith(warmed);
    let compiled = 0;
    while (warmed.compileNext()) compiled++;
    expect(compiled).toBe(2);
    expect(warmed.pendingCount).toBe(0);
    expect(await exercise(server)).toEqual(lazyResult);
  });

  it("leave routes without a schema alone", async () => {
    const server = await appWith(new LazyCompilers());
    const response = await server.inject({ method: "GET", url: "/plain" });
    expect(response.json()).toEqual({ ok: true });
  });
});

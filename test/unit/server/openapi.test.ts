import { describe, expect, it } from "vitest";
import { MAX_UPDATE_BASE64_LENGTH } from "../../../src/bridge/api-schemas/keys.js";
import { buildOpenApi } from "../../../src/server/openapi.js";
import { ROUTES } from "../../../src/server/routes.js";
import { MAX_BORROW_DAYS, MAX_CLIENT_BYTES, MAX_LICENSES } from "../../../src/vocabulary/index.js";

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  maximum?: number;
  maxItems?: number;
  maxLength?: number;
  required?: string[];
};
type Operation = {
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
};

const doc = buildOpenApi(ROUTES, "0.0.0-test") as { paths: Record<string, Record<string, Operation>> };
const operation = (path: string, method: string) => {
  const found = doc.paths[path]?.[method];
  if (found === undefined) throw new Error(`no ${method} ${path}`);
  return found;
};

describe("the OpenAPI document is generated from the schemas the bridge's types come from", () => {
  it("every JSON answer of a route names its shape (no open object stands in for one)", () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(op.responses)) {
          const schema = response.content?.["application/json"]?.schema;
          if (!status.startsWith("2") || schema === undefined || path === "/v1/openapi.json") continue;
          const shape = schema.type === "array" ? schema.items : schema;
          // A list of either source's borrows is a union: each of its members names its shape.
          for (const member of shape?.anyOf ?? [shape]) {
            expect(Object.keys(member?.properties ?? {}).length, `${method} ${path} ${status}`).toBeGreaterThan(0);
          }
        }
      }
    }
  });

  it("request bounds are the vocabulary's", () => {
    const borrow = operation("/v1/borrows", "post").requestBody?.content["application/json"]?.schema;
    expect(borrow?.properties?.days?.maximum).toBe(MAX_BORROW_DAYS);
    expect(borrow?.properties?.client?.maxLength).toBe(MAX_CLIENT_BYTES);
    const update = operation("/v1/keys/{serial}/license-update", "post").requestBody?.content["application/json"]
      ?.schema;
    expect(update?.properties?.licenses?.maxItems).toBe(MAX_LICENSES);
    expect(update?.properties?.licenses?.items?.properties?.borrowDays?.maximum).toBe(MAX_BORROW_DAYS);
    // The signed file in base64: no longer than the largest update file needs.
    expect(update?.properties?.update?.maxLength).toBe(MAX_UPDATE_BASE64_LENGTH);
    const preview = operation("/v1/keys/{serial}/license-update/preview", "post").requestBody?.content[
      "application/json"
    ]?.schema;
    expect(preview).toEqual(update);
  });

  it("answers carry the fields the library's types have", () => {
    const repair = operation("/v1/reconcile/repair", "post").responses["200"]?.content?.["application/json"]?.schema;
    expect(repair?.required).toEqual(expect.arrayContaining(["applied", "after"]));
    const update = operation("/v1/keys/{serial}/license-update", "post").responses["200"]?.content?.["application/json"]
      ?.schema;
    expect(update?.required).toEqual(
      expect.arrayContaining(["serial", "licenseSetVersion", "forced", "dummiesCreated"]),
    );
    const preview = operation("/v1/keys/{serial}/license-update/preview", "post").responses["200"]?.content?.[
      "application/json"
    ]?.schema;
    expect(preview?.required).toEqual(
      expect.arrayContaining(["counter", "keyCounter", "signatureValid", "changes", "dummies", "refusal"]),
    );
  });
});

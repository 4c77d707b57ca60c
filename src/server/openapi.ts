import type { TObject, TSchema } from "@sinclair/typebox";
import type { RouteSpec } from "./routes.js";
import { ProblemSchema } from "./schemas.js";

type Json = Record<string, unknown>;

/** TypeBox schemas carry symbol keys; a JSON round trip leaves the plain JSON Schema. */
const plain = (schema: TSchema): Json => JSON.parse(JSON.stringify(schema)) as Json;

function parameters(where: "path" | "query" | "header", schema: TObject | undefined): Json[] {
  if (schema === undefined) return [];
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === "path" || required.has(name),
    schema: plain(property),
    ...(property.description === undefined ? {} : { description: property.description }),
  }));
}

/** An OpenAPI 3.1 document generated from the route table and its TypeBox schemas. */
export function buildOpenApi(routes: readonly RouteSpec[], version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
    const responses: Record<string, Json> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      const contentType = response.contentType ?? "application/json";
      responses[status] =
        response.schema === undefined && contentType === "application/json" && Number(status) >= 400
          ? {
              description: response.description,
              content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
            }
          : {
              description: response.description,
              content: { [contentType]: { schema: response.schema ? plain(response.schema) : {} } },
            };
    }
    if (route.auth !== "none") responses["401"] = { $ref: "#/components/responses/Unauthorized" };
    responses.default = { $ref: "#/components/responses/Problem" };
    const operation: Json = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.virtual ? "virtual" : route.url.startsWith("/v1") ? "api" : "service"],
      parameters: [
        ...parameters("path", route.params),
        ...parameters("query", route.querystring),
        ...parameters("header", route.headerParams),
      ],
      responses,
      security: route.auth === "none" ? [] : [{ bearer: [] }],
    };
    if (route.virtual) operation["x-virtual-only"] = true;
    if (route.body !== undefined) {
      operation.requestBody = { required: true, content: { "application/json": { schema: plain(route.body) } } };
    } else if (route.rawBody !== undefined) {
      operation.requestBody = {
        required: true,
        content: { [route.rawBody.contentType]: { schema: { type: "string", maxLength: route.rawBody.limit } } },
      };
    }
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "keybridge",
      version,
      description: "USB HID license-key bridge: borrows, risks, preflight, migration. Loopback only by default.",
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "the token in <dataDir>/api-token" } },
      schemas: { Problem: plain(ProblemSchema) },
      responses: {
        Unauthorized: {
          description: "No token or a wrong one",
          content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
        },
        Problem: {
          description: "An error, as RFC 9457 problem details with a stable code",
          content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
        },
      },
    },
  };
}

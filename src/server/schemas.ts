/**
 * TypeBox schemas of the HTTP API: request bodies, paths and queries are validated against them,
 * and the OpenAPI document is generated from them. The shapes the bridge speaks (views, request
 * bodies) are the bridge's own (src/bridge/api-schemas/, re-exported here), from which
 * src/bridge/api.ts derives its types; this file adds what only HTTP has: path and query
 * parameters (strings), the webhooks' views and the problem body. Response schemas document;
 * they are not used to serialise (fields may be added by the bridge and must pass through).
 */
import { Type } from "@sinclair/typebox";
import { Iso, Serial } from "../bridge/api-schemas/index.js";

export * from "../bridge/api-schemas/index.js";

/** Borrow ids are numbered per key: `serial` names the key when two keys hold the same id. */
export const BorrowKeyQuerySchema = Type.Object({ serial: Type.Optional(Serial) }, { additionalProperties: false });

export const BorrowsQuerySchema = Type.Object(
  {
    serial: Type.Optional(Serial),
    state: Type.Optional(
      Type.Union([Type.Literal("active"), Type.Literal("expired"), Type.Literal("dummy")], {
        description: "listings hold outstanding borrows only: active, expired or dummy",
      }),
    ),
    source: Type.Optional(
      Type.Union([Type.Literal("keybridge"), Type.Literal("codemeter")], {
        description: "only keybridge's own borrows, or only the CodeMeter server's",
      }),
    ),
  },
  { additionalProperties: false },
);

export const ImportQuerySchema = Type.Object(
  { force: Type.Optional(Type.Union([Type.Literal("true"), Type.Literal("false")])) },
  { additionalProperties: false },
);

export const EventsQuerySchema = Type.Object(
  { token: Type.Optional(Type.String({ description: "for EventSource, which cannot send headers" })) },
  { additionalProperties: false },
);

export const EventHistoryQuerySchema = Type.Object(
  {
    after: Type.Optional(
      Type.String({ pattern: "^[0-9]{1,15}$", description: "only events with a larger seq (default 0: all kept)" }),
    ),
    limit: Type.Optional(
      Type.String({ pattern: "^[0-9]{1,4}$", description: "at most this many of the newest (default 100, max 1000)" }),
    ),
  },
  { additionalProperties: false },
);

export const AuditQuerySchema = Type.Object(
  {
    kind: Type.Optional(Type.String({ pattern: "^[a-z][a-z-]{0,39}$", description: "e.g. counterfeit-key, repair" })),
    serial: Type.Optional(Serial),
    since: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: "ISO 8601 time" })),
    before: Type.Optional(Type.String({ pattern: "^[0-9]{1,15}$", description: "an entry id: older entries only" })),
    limit: Type.Optional(Type.String({ pattern: "^[0-9]{1,4}$", description: "default 50, at most 1000" })),
  },
  { additionalProperties: false },
);

export const IdParamsSchema = Type.Object({ id: Type.String({ pattern: "^[0-9]{1,16}$", description: "borrow id" }) });
/** A return names a keybridge borrow id; a CodeMeter borrow id is accepted only to be refused clearly (409). */
export const ReturnIdParamsSchema = Type.Object({
  id: Type.String({
    pattern: "^([0-9]{1,16}|[0-9]{1,10}(-[0-9]{1,10}){3})$",
    description: "keybridge borrow id (a CodeMeter borrow id is refused: CODEMETER_BORROW_READ_ONLY)",
  }),
});
export const SerialParamsSchema = Type.Object({ serial: Serial });
export const ActionParamsSchema = Type.Object({
  action: Type.String({ description: "one of the nine preflight actions" }),
});

export const VirtualClockSchema = Type.Object(
  {
    advance: Type.Union([
      Type.String({
        pattern: "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d|w)?\\s*$",
        description: "a duration like 31d, 2h; at most 3650d, and no key clock more than 100 years ahead",
      }),
      Type.Integer({ minimum: 0, description: "milliseconds, at most 315360000000 (3650 days)" }),
    ]),
  },
  { additionalProperties: false },
);

export const NotifyTestQuerySchema = Type.Object(
  { name: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9._-]{1,64}$", description: "only this webhook" })) },
  { additionalProperties: false },
);

export const WebhookViewSchema = Type.Object({
  name: Type.String(),
  url: Type.String({ description: "scheme and host only; the path of a chat webhook is its secret" }),
  events: Type.Array(Type.String()),
  format: Type.Union([Type.Literal("json"), Type.Literal("text")]),
  signed: Type.Boolean(),
  holdMs: Type.Integer({ description: "a risk.raised waits this long for its clearing before it is sent" }),
  delivered: Type.Integer(),
  failed: Type.Integer(),
  dropped: Type.Integer(),
  retried: Type.Integer(),
  pending: Type.Integer({ description: "waiting, held or being sent" }),
  suppressed: Type.Integer({ description: "risks raised and cleared within the hold: never sent" }),
  last: Type.Union([
    Type.Null(),
    Type.Object({ at: Iso, ok: Type.Boolean(), type: Type.String(), result: Type.String() }),
  ]),
});

export const WebhookTestResultSchema = Type.Object({
  name: Type.String(),
  url: Type.String(),
  ok: Type.Boolean(),
  result: Type.String({ description: "HTTP 204, ECONNREFUSED: …, timed out after 5000 ms" }),
  ms: Type.Number(),
});

export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String({ description: "stable UPPER_SNAKE error code" }),
  field: Type.Optional(Type.String()),
});

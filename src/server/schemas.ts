/**
 * TypeBox schemas of the API: request bodies are validated against them, and the OpenAPI
 * document is generated from them. Response schemas document the view types of src/bridge/api.ts;
 * they are not used to serialise (fields may be added by the bridge and must pass through).
 */
import { type TSchema, Type } from "@sinclair/typebox";
import {
  CodeMeterBorrowIdSchema,
  CodeMeterBorrowRefSchema,
  CodeMeterBorrowViewSchema,
  CodeMeterMaintenanceViewSchema,
  CodeMeterStatusSchema,
} from "./codemeter-schemas.js";

const Iso = Type.String({ format: "date-time", description: "ISO 8601" });
const Severity = Type.Union([Type.Literal("info"), Type.Literal("warning"), Type.Literal("critical")]);
const Product = Type.Integer({ minimum: 0, maximum: 4_294_967_295, description: "product code (u32)" });
const Serial = Type.String({ minLength: 1, maxLength: 64 });
/** No control character, line break or bidirectional control (the bridge also refuses unpaired surrogates). */
const CLIENT_PATTERN =
  "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]*$";

export const LicenseInputSchema = Type.Object(
  {
    product: Product,
    seats: Type.Integer({ minimum: 0, maximum: 65_535 }),
    borrowable: Type.Integer({ minimum: 0, maximum: 65_535 }),
    borrowDays: Type.Integer({ minimum: 1, maximum: 3_650 }),
  },
  { additionalProperties: false },
);

export const BorrowRequestSchema = Type.Object(
  {
    product: Product,
    client: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: CLIENT_PATTERN,
      description:
        "client computer or user; at most 64 bytes UTF-8, no control characters, line breaks or bidirectional controls",
    }),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_650 })),
    serial: Type.Optional(Serial),
  },
  { additionalProperties: false },
);

export const LicenseUpdateSchema = Type.Object(
  { licenses: Type.Array(LicenseInputSchema, { minItems: 1, maxItems: 1024 }), force: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

/** Borrow ids are numbered per key: `serial` names the key when two keys hold the same id. */
export const BorrowKeyQuerySchema = Type.Object({ serial: Type.Optional(Serial) }, { additionalProperties: false });

export const BorrowsQuerySchema = Type.Object(
  {
    serial: Type.Optional(Serial),
    state: Type.Optional(Type.Union([Type.Literal("active"), Type.Literal("expired"), Type.Literal("dummy")])),
    source: Type.Optional(Type.Union([Type.Literal("keybridge"), Type.Literal("codemeter")])),
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

export const VirtualCreateSchema = Type.Object(
  { serial: Type.Optional(Serial), licenses: Type.Optional(Type.Array(LicenseInputSchema, { maxItems: 1024 })) },
  { additionalProperties: false },
);

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

export const VirtualHostSchema = Type.Object(
  {
    ip: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    hostname: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    machineId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const BorrowViewSchema = Type.Object({
  source: Type.Literal("keybridge"),
  id: Type.Integer(),
  serial: Serial,
  product: Product,
  client: Type.String(),
  issuedAt: Iso,
  expiresAt: Iso,
  state: Type.Union([
    Type.Literal("active"),
    Type.Literal("expired"),
    Type.Literal("dummy"),
    Type.Literal("returned"),
    Type.Literal("settled"),
  ]),
  dummyUntil: Type.Optional(Iso),
  productName: Type.Optional(Type.String()),
});

export const LicenseViewSchema = Type.Object({
  product: Product,
  name: Type.Optional(Type.String()),
  seats: Type.Integer(),
  borrowable: Type.Integer(),
  borrowed: Type.Integer(),
  dummies: Type.Integer(),
  borrowDays: Type.Integer(),
});

export const KeyViewSchema = Type.Object({
  serial: Serial,
  present: Type.Boolean(),
  kind: Type.Union([Type.Literal("keybridge"), Type.Literal("codemeter")]),
  firmwareVersion: Type.Optional(Type.String()),
  licenseSetVersion: Type.Optional(Type.Integer()),
  lastSeen: Type.Optional(Iso),
  keyTime: Type.Optional(
    Type.String({ format: "date-time", description: "the key's clock now; borrow times are in this clock" }),
  ),
  licenses: Type.Array(LicenseViewSchema),
});

export const RiskViewSchema = Type.Object({
  kind: Type.String(),
  source: Type.Union([Type.Literal("keybridge"), Type.Literal("codemeter")], {
    description: "whose borrows it endangers: keybridge's own or the CodeMeter server's",
  }),
  severity: Severity,
  message: Type.String(),
  advice: Type.String(),
  since: Iso,
  serial: Type.Optional(Serial),
  borrowIds: Type.Optional(Type.Array(Type.Integer())),
  codeMeterBorrowIds: Type.Optional(Type.Array(CodeMeterBorrowIdSchema)),
});

/** A borrow of either source, as `GET /v1/borrows` lists it. */
export const ListedBorrowViewSchema = Type.Union([BorrowViewSchema, CodeMeterBorrowViewSchema]);

export const BridgeEventSchema = Type.Object(
  {
    type: Type.String(),
    seq: Type.Optional(Type.Integer({ minimum: 1 })),
    at: Iso,
    message: Type.String(),
    serial: Type.Optional(Serial),
    borrow: Type.Optional(BorrowViewSchema),
    risk: Type.Optional(RiskViewSchema),
    details: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: false },
);

export const AuditEntryViewSchema = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  at: Iso,
  kind: Type.String(),
  serial: Type.Optional(Serial),
  borrowId: Type.Optional(Type.Integer()),
  message: Type.String(),
  details: Type.Object({}, { additionalProperties: true }),
});

export const EventHistoryViewSchema = Type.Object({
  runId: Type.String({ description: "changes at every daemon start" }),
  lastSeq: Type.Integer({ minimum: 0 }),
  truncated: Type.Boolean({ description: "some events after `after` are no longer kept or were cut by `limit`" }),
  events: Type.Array(BridgeEventSchema),
});

export const DummyViewSchema = Type.Object({
  serial: Serial,
  product: Product,
  borrowId: Type.Integer(),
  dummyUntil: Type.Union([Iso, Type.Null()]),
  blocksProduct: Type.Boolean(),
});

export const FindingViewSchema = Type.Object({
  kind: Type.String(),
  severity: Severity,
  message: Type.String(),
  repair: Type.Object({ action: Type.String(), safe: Type.Boolean(), description: Type.String() }),
  borrowId: Type.Optional(Type.Integer()),
  serial: Type.Optional(Serial),
});

export const ReconcileViewSchema = Type.Object({
  findings: Type.Array(FindingViewSchema),
  dummies: Type.Array(DummyViewSchema),
  blockedProducts: Type.Array(Type.Object({ serial: Serial, product: Product, until: Type.Union([Iso, Type.Null()]) })),
  counts: Type.Record(Type.String(), Type.Integer()),
});

export const MaintenancePlanViewSchema = Type.Object({
  at: Iso,
  until: Type.Union([Iso, Type.Null()], { description: "borrowing opens again by itself then; null: when cancelled" }),
  action: Type.Union([Type.String(), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]),
  plannedAt: Iso,
});

export const MaintenanceViewSchema = Type.Object({
  plan: Type.Union([MaintenancePlanViewSchema, Type.Null()]),
  phase: Type.Union([Type.Literal("none"), Type.Literal("before"), Type.Literal("during"), Type.Literal("over")]),
  borrowsEndingAfter: Type.Array(BorrowViewSchema, { description: "outstanding borrows that end after `at`" }),
  codemeter: Type.Optional(CodeMeterMaintenanceViewSchema),
  clear: Type.Boolean({ description: "no outstanding borrow ends after `at`" }),
  summary: Type.String(),
  cancelled: Type.Optional(
    Type.Union([MaintenancePlanViewSchema, Type.Null()], {
      description: "in the answer to DELETE only: the plan that was ended (null: none was planned)",
    }),
  ),
});

export const MaintenanceRequestSchema = Type.Object(
  {
    at: Type.String({ format: "date-time", description: "when the window starts (ISO 8601, in the future)" }),
    until: Type.Optional(Type.String({ format: "date-time", description: "when borrowing opens again by itself" })),
    action: Type.Optional(Type.String({ description: "the preflight action the window is for" })),
    note: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const StatusViewSchema = Type.Object({
  mode: Type.Union([Type.Literal("real"), Type.Literal("virtual")]),
  keys: Type.Array(KeyViewSchema),
  borrows: Type.Array(BorrowViewSchema),
  dummies: Type.Array(DummyViewSchema),
  risks: Type.Array(RiskViewSchema),
  ledger: Type.Object({
    path: Type.String(),
    healthy: Type.Boolean(),
    rebuilt: Type.Boolean(),
    lastExportAt: Type.Union([Iso, Type.Null()], { description: "the last ledger export (backup); null if never" }),
    problem: Type.Optional(
      Type.String({ description: "while not healthy: what is wrong (writes failing, file deleted) and what to do" }),
    ),
  }),
  maintenance: Type.Union([MaintenancePlanViewSchema, Type.Null()], { description: "the planned maintenance window" }),
  codemeter: Type.Optional(CodeMeterStatusSchema),
  registry: Type.Object({
    kind: Type.String(),
    location: Type.String(),
    lagMs: Type.Number(),
    healthy: Type.Boolean(),
    lastDriftCheck: Type.Union([Type.String(), Type.Null()]),
    refused: Type.Array(Type.Object({ serial: Serial, id: Type.Integer(), reason: Type.String() }), {
      description: "borrows the registry refused to store (the ledger holds them; the other entries are copied)",
    }),
  }),
});

export const PreflightViewSchema = Type.Object({
  action: Type.String(),
  safe: Type.Boolean(),
  reasons: Type.Array(Type.String()),
  advice: Type.Array(Type.String()),
  borrows: Type.Array(
    Type.Union([
      Type.Object({
        source: Type.Literal("keybridge"),
        serial: Serial,
        id: Type.Integer(),
        product: Product,
        client: Type.String(),
        expiresAt: Iso,
      }),
      CodeMeterBorrowRefSchema,
    ]),
  ),
  lastEndsAt: Type.Union([Iso, Type.Null()], {
    description: "when the last borrow in the way ends; null when none is, or one never expires",
  }),
});

export const LedgerExportViewSchema = Type.Object({
  file: Type.String(),
  borrows: Type.Integer(),
  keys: Type.Integer(),
});

export const VirtualKeyViewSchema = Type.Object({
  serial: Serial,
  plugged: Type.Boolean(),
  keyTime: Iso,
  licenses: Type.Array(LicenseInputSchema),
});

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

export const GenericObjectSchema: TSchema = Type.Object({}, { additionalProperties: true });

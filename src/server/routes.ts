import type { TObject, TSchema } from "@sinclair/typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type {
  BorrowRequestInput,
  BorrowSource,
  BorrowStateView,
  Bridge,
  LicenseInput,
  LicenseUpdateInput,
  PreflightAction,
  VirtualHostInput,
} from "../bridge/api.js";
import { CodeMeterViewSchema } from "../bridge/api-schemas/index.js";
import { parseDuration } from "../config/duration.js";
import { isPreflightAction, PREFLIGHT_ACTIONS, UnknownPreflightActionError } from "../reconcile/index.js";
import type { BorrowListCache } from "./borrow-cache.js";
import { refuseCodeMeterReturn } from "./codemeter-return.js";
import { RequestValidationError } from "./errors.js";
import type { ServerMetrics } from "./metrics.js";
import { type Notifier, UnknownWebhookError } from "./notify/index.js";
import * as S from "./schemas.js";
import type { EventStreams } from "./sse.js";

export interface RouteContext {
  bridge: Bridge;
  borrowCache: BorrowListCache;
  metrics: ServerMetrics;
  streams: EventStreams;
  /** Absent when the server runs without webhooks (the library's createServer, tests). */
  notifier: Notifier | undefined;
  dashboardHtml: string;
  openapiJson: () => string;
  version: string;
  startedAt: number;
}

export interface RouteResponse {
  description: string;
  schema?: TSchema;
  contentType?: string;
}

export interface RouteSpec {
  method: "GET" | "POST" | "DELETE";
  url: string;
  operationId: string;
  summary: string;
  /** `query-token`: also accepts `?token=` (EventSource cannot send headers). */
  auth: "none" | "token" | "query-token";
  /** Only registered when the bridge runs virtual keys. */
  virtual?: boolean;
  /** Counted in keybridge_operations_total under this name. */
  op?: string;
  /** Reaches the key: timed into keybridge_key_exchange_seconds. */
  keyOp?: boolean;
  params?: TObject;
  querystring?: TObject;
  /** Request headers the route reads, for the OpenAPI document (the handler checks them). */
  headerParams?: TObject;
  body?: TSchema;
  /** A raw text body (ledger import), with its own size limit. */
  rawBody?: { limit: number; contentType: string };
  responses: Record<number, RouteResponse>;
  handler: (ctx: RouteContext, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const json = (description: string, schema?: TSchema): RouteResponse =>
  schema ? { description, schema } : { description };
const idOf = (request: FastifyRequest) => Number((request.params as { id: string }).id);
const serialOf = (request: FastifyRequest) => (request.params as { serial: string }).serial;
/** `?serial=` of the borrow routes: names the key when two keys hold the same borrow id. */
const keyOf = (request: FastifyRequest) => ({ serial: (request.query as { serial?: string }).serial });

/** The license-update body as the bridge takes it: a signed update file's bytes, or a bare license set. */
function licenseUpdateOf(request: FastifyRequest): { update: LicenseUpdateInput; force: boolean } {
  const body = request.body as { update?: string; licenses?: LicenseInput[]; force?: boolean };
  if ((body.update === undefined) === (body.licenses === undefined)) {
    throw new RequestValidationError(
      "send exactly one of `update` (a signed license update file, base64) and `licenses` (a bare license set)",
      body.update === undefined ? "update" : "licenses",
    );
  }
  const update = body.update === undefined ? (body.licenses as LicenseInput[]) : base64Bytes(body.update);
  return { update, force: body.force === true };
}

function base64Bytes(text: string): Uint8Array {
  const bytes = Buffer.from(text, "base64");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

function virtualControls(ctx: RouteContext) {
  // Registered only in virtual mode, so this holds; the check keeps the types honest.
  const controls = ctx.bridge.virtual;
  if (controls === undefined) throw new Error("virtual routes registered without virtual controls");
  return controls;
}

export const ROUTES: readonly RouteSpec[] = [
  {
    method: "GET",
    url: "/v1/health",
    operationId: "health",
    summary: "Liveness: answers without a token and without asking the key",
    auth: "none",
    responses: { 200: json("The daemon is up", Type.Object({ status: Type.Literal("ok"), mode: Type.String() })) },
    handler: async (ctx) => ({
      status: "ok",
      mode: ctx.bridge.mode,
      version: ctx.version,
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
    }),
  },
  {
    method: "GET",
    url: "/v1/status",
    operationId: "status",
    summary: "Keys, outstanding borrows, dummies and open risks: the one-screen summary",
    auth: "token",
    responses: { 200: json("The status", S.StatusViewSchema) },
    handler: (ctx) => ctx.bridge.status(),
  },
  {
    method: "GET",
    url: "/v1/keys",
    operationId: "listKeys",
    summary: "Keys with their licenses (seats, borrowable, borrowed, dummies)",
    auth: "token",
    responses: { 200: json("Keys", Type.Array(S.KeyViewSchema)) },
    handler: (ctx) => ctx.bridge.keys(),
  },
  {
    method: "GET",
    url: "/v1/borrows",
    operationId: "listBorrows",
    summary:
      "Borrow records, dummies included, keybridge's and (read-only) the CodeMeter server's, each with its source; filter by serial, state and source",
    auth: "token",
    querystring: S.BorrowsQuerySchema,
    responses: { 200: json("Borrows", Type.Array(S.ListedBorrowViewSchema)) },
    handler: async (ctx, request, reply) => {
      const query = request.query as { serial?: string; state?: BorrowStateView; source?: BorrowSource };
      const body = await ctx.borrowCache.get(query);
      return reply.type("application/json; charset=utf-8").send(body);
    },
  },
  {
    method: "GET",
    url: "/v1/borrows/:id",
    operationId: "getBorrow",
    summary: "One borrow",
    auth: "token",
    params: S.IdParamsSchema,
    querystring: S.BorrowKeyQuerySchema,
    responses: { 200: json("The borrow", S.BorrowViewSchema), 404: json("No such borrow") },
    handler: (ctx, request) => ctx.bridge.getBorrow(idOf(request), keyOf(request)),
  },
  {
    method: "POST",
    url: "/v1/borrows",
    operationId: "borrow",
    summary: "Borrow a license",
    auth: "token",
    op: "borrow",
    keyOp: true,
    headerParams: Type.Object({
      "Idempotency-Key": Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 255,
          pattern: "^[\\x21-\\x7e]+$",
          description:
            "Makes a retry safe: the same key with the same body answers the same borrow (201, same id, its state now), " +
            "also after a restart or after the borrow ended; the same key with another body is 422 IDEMPOTENCY_KEY_REUSED.",
        }),
      ),
    }),
    body: S.BorrowRequestSchema,
    responses: {
      201: json(
        "The new borrow; with an Idempotency-Key header already used for this request, the same borrow again",
        S.BorrowViewSchema,
      ),
      409: json("No seat may be borrowed (all borrowed, or a Borrow Dummy blocks the product)"),
      422: json("The Idempotency-Key was used for a different borrow request (IDEMPOTENCY_KEY_REUSED)"),
      503: json("The key is absent or busy; retry after Retry-After seconds"),
    },
    handler: async (ctx, request, reply) => {
      const idempotencyKey = request.headers["idempotency-key"];
      if (Array.isArray(idempotencyKey)) {
        throw new RequestValidationError("send the Idempotency-Key header once", "idempotencyKey");
      }
      const borrow = await ctx.bridge.borrow(
        request.body as BorrowRequestInput,
        idempotencyKey === undefined ? {} : { idempotencyKey },
      );
      reply.code(201).header("location", `/v1/borrows/${borrow.id}`);
      return borrow;
    },
  },
  {
    method: "DELETE",
    url: "/v1/borrows/:id",
    operationId: "returnBorrow",
    summary: "Return a borrow early (keybridge's own: a CodeMeter borrow is refused, 409 CODEMETER_BORROW_READ_ONLY)",
    auth: "token",
    op: "return",
    keyOp: true,
    params: S.ReturnIdParamsSchema,
    querystring: S.BorrowKeyQuerySchema,
    responses: {
      200: json(
        "Returned (outcome `returned`), or the key holds the borrow as a dummy (outcome `dummy`, see borrow.dummyUntil)",
        S.ReturnResultViewSchema,
      ),
      404: json("No such borrow"),
      409: json("A CodeMeter borrow: keybridge watches them read-only (CODEMETER_BORROW_READ_ONLY)"),
    },
    handler: async (ctx, request) => {
      await refuseCodeMeterReturn(ctx.bridge, (request.params as { id: string }).id);
      return ctx.bridge.returnBorrow(idOf(request), keyOf(request));
    },
  },
  {
    method: "GET",
    url: "/v1/reconcile",
    operationId: "reconcile",
    summary: "Findings across key, registry and ledger (dry run)",
    auth: "token",
    responses: { 200: json("The findings", S.ReconcileViewSchema) },
    handler: (ctx) => ctx.bridge.reconcile(),
  },
  {
    method: "POST",
    url: "/v1/reconcile/repair",
    operationId: "repair",
    summary: "Apply the safe repairs",
    auth: "token",
    op: "repair",
    keyOp: true,
    responses: { 200: json("What was applied, and the findings after", S.RepairResultViewSchema) },
    handler: (ctx) => ctx.bridge.repair(),
  },
  {
    method: "GET",
    url: "/v1/preflight/:action",
    operationId: "preflight",
    summary: `Is an action safe now? One of: ${PREFLIGHT_ACTIONS.join(", ")}`,
    auth: "token",
    params: S.ActionParamsSchema,
    responses: { 200: json("The verdict", S.PreflightViewSchema), 400: json("Unknown action") },
    handler: (ctx, request) => {
      const { action } = request.params as { action: string };
      if (!isPreflightAction(action)) throw new UnknownPreflightActionError(action);
      return ctx.bridge.preflight(action as PreflightAction);
    },
  },
  {
    method: "POST",
    url: "/v1/migrate",
    operationId: "migrate",
    summary: "Rebind outstanding borrows to the current host identity",
    auth: "token",
    op: "migrate",
    keyOp: true,
    responses: { 200: json("What happened to each borrow", S.MigrationViewSchema) },
    handler: (ctx) => ctx.bridge.migrate(),
  },
  {
    method: "GET",
    url: "/v1/risks",
    operationId: "listRisks",
    summary: "Open risks with plain-language explanation and advice",
    auth: "token",
    responses: { 200: json("Open risks", Type.Array(S.RiskViewSchema)) },
    handler: async (ctx) => ctx.bridge.risks(),
  },
  {
    method: "GET",
    url: "/v1/audit",
    operationId: "audit",
    summary: "The ledger's audit trail, newest first: refusals, forced updates, repairs, rollbacks, migrations",
    auth: "token",
    querystring: S.AuditQuerySchema,
    responses: { 200: json("Audit entries, newest first", Type.Array(S.AuditEntryViewSchema)) },
    handler: async (ctx, request) => {
      const query = request.query as {
        kind?: string;
        serial?: string;
        since?: string;
        before?: string;
        limit?: string;
      };
      return ctx.bridge.audit({
        ...(query.kind === undefined ? {} : { kind: query.kind }),
        ...(query.serial === undefined ? {} : { serial: query.serial }),
        ...(query.since === undefined ? {} : { since: query.since }),
        ...(query.before === undefined ? {} : { before: Number(query.before) }),
        ...(query.limit === undefined ? {} : { limit: Number(query.limit) }),
      });
    },
  },
  {
    method: "GET",
    url: "/v1/events/history",
    operationId: "eventHistory",
    summary: "The last events of this daemon run (1 000 kept), oldest first; `after` a seq, at most `limit`",
    auth: "token",
    querystring: S.EventHistoryQuerySchema,
    responses: { 200: json("Kept events", S.EventHistoryViewSchema) },
    handler: async (ctx, request) => {
      const query = request.query as { after?: string; limit?: string };
      return ctx.bridge.recentEvents({
        after: query.after === undefined ? 0 : Number(query.after),
        limit: Math.min(1000, query.limit === undefined ? 100 : Number(query.limit)),
      });
    },
  },
  {
    method: "GET",
    url: "/v1/events",
    operationId: "events",
    summary: "Server-sent events: open risks first, then every bridge event; heartbeat comments",
    auth: "query-token",
    querystring: S.EventsQuerySchema,
    responses: { 200: { description: "An event stream", contentType: "text/event-stream" } },
    handler: async (ctx, request, reply) => {
      reply.hijack();
      const lastEventId = request.headers["last-event-id"];
      ctx.streams.open(reply.raw, typeof lastEventId === "string" ? lastEventId : undefined);
    },
  },
  {
    method: "GET",
    url: "/v1/maintenance",
    operationId: "maintenance",
    summary: "The planned maintenance window and the borrows that still end after its start",
    auth: "token",
    responses: { 200: json("The plan", S.MaintenanceViewSchema) },
    handler: (ctx) => ctx.bridge.maintenance(),
  },
  {
    method: "POST",
    url: "/v1/maintenance",
    operationId: "planMaintenance",
    summary: "Plan (or replace) a maintenance window: new borrows end before it, none are made during it",
    auth: "token",
    op: "maintenance",
    body: S.MaintenanceRequestSchema,
    responses: { 200: json("The plan", S.MaintenanceViewSchema), 400: json("A time in the past, until before at") },
    handler: (ctx, request) => {
      const body = request.body as { at: string; until?: string; action?: PreflightAction; note?: string };
      return ctx.bridge.planMaintenance(body);
    },
  },
  {
    method: "DELETE",
    url: "/v1/maintenance",
    operationId: "cancelMaintenance",
    summary: "End the maintenance plan: borrowing is normal again",
    auth: "token",
    op: "maintenance",
    responses: { 200: json("No plan any more", S.MaintenanceViewSchema) },
    handler: (ctx) => ctx.bridge.cancelMaintenance(),
  },
  {
    method: "GET",
    url: "/v1/notify",
    operationId: "listWebhooks",
    summary: "The configured webhooks: which events each gets, and how its deliveries went",
    auth: "token",
    responses: { 200: json("Webhooks", Type.Object({ webhooks: Type.Array(S.WebhookViewSchema) })) },
    handler: async (ctx) => ({ webhooks: ctx.notifier?.webhooks() ?? [] }),
  },
  {
    method: "POST",
    url: "/v1/notify/test",
    operationId: "testWebhooks",
    summary: "Sends one test notification to each webhook (or the one named) now, and says what each answered",
    auth: "token",
    querystring: S.NotifyTestQuerySchema,
    responses: {
      200: json("One result per webhook", Type.Object({ results: Type.Array(S.WebhookTestResultSchema) })),
      404: json("No webhook has that name"),
    },
    handler: async (ctx, request) => {
      const name = (request.query as { name?: string }).name;
      if (ctx.notifier === undefined) {
        if (name !== undefined) throw new UnknownWebhookError(name, []);
        return { results: [] };
      }
      return { results: await ctx.notifier.test(name) };
    },
  },
  {
    method: "POST",
    url: "/v1/keys/:serial/license-update",
    operationId: "licenseUpdate",
    summary:
      "Replace a key's license set with a vendor-signed update file (or, where this daemon signs for the key's " +
      "vendor, a bare set); refused while borrows are out unless force, and refused as the key would refuse it",
    auth: "token",
    op: "license-update",
    keyOp: true,
    params: S.SerialParamsSchema,
    body: S.LicenseUpdateRequestSchema,
    responses: {
      200: json("The update", S.LicenseUpdateViewSchema),
      400: json("Not an update file, or an invalid license set (UPDATE_FILE_INVALID, VALIDATION)"),
      409: json(
        "Borrows are out (BORROWS_OUTSTANDING), or the key would refuse it: KEY_WRONG_SERIAL, KEY_STALE_COUNTER, " +
          "KEY_BAD_VENDOR_SIGNATURE, KEY_NOT_PROVISIONED, KEY_UPDATE_NOT_SIGNED",
      ),
    },
    handler: (ctx, request) => {
      const { update, force } = licenseUpdateOf(request);
      return ctx.bridge.licenseUpdate(serialOf(request), update, { force });
    },
  },
  {
    method: "POST",
    url: "/v1/keys/:serial/license-update/preview",
    operationId: "previewLicenseUpdate",
    summary:
      "What a license update would change (licenses, counter, signature, the borrows that would become dummies) " +
      "and whether it would be refused; nothing is sent to the key that changes it",
    auth: "token",
    op: "license-update-preview",
    keyOp: true,
    params: S.SerialParamsSchema,
    body: S.LicenseUpdateRequestSchema,
    responses: {
      200: json("The preview; `refusal` says what the update would be refused with", S.LicenseUpdatePreviewViewSchema),
      400: json("Not an update file, or an invalid license set"),
    },
    handler: (ctx, request) => {
      const { update, force } = licenseUpdateOf(request);
      return ctx.bridge.previewLicenseUpdate(serialOf(request), update, { force });
    },
  },
  {
    method: "GET",
    url: "/v1/ledger/export",
    operationId: "exportLedger",
    summary: "The checksummed ledger export, as a file body",
    auth: "token",
    op: "ledger-export",
    responses: { 200: { description: "The export file", contentType: "application/octet-stream" } },
    handler: async (ctx, _request, reply) => {
      const { text, summary } = await ctx.bridge.exportLedgerText();
      return reply
        .type("application/octet-stream")
        .header("content-disposition", 'attachment; filename="keybridge-ledger.export"')
        .header("x-keybridge-borrows", String(summary.borrows))
        .header("x-keybridge-keys", String(summary.keys))
        .send(text);
    },
  },
  {
    method: "POST",
    url: "/v1/ledger/import",
    operationId: "importLedger",
    summary: "Import an export file's text (up to 16 MiB); ?force=true to merge into a ledger with borrows",
    auth: "token",
    op: "ledger-import",
    querystring: S.ImportQuerySchema,
    rawBody: { limit: 16 * 1024 * 1024, contentType: "application/octet-stream" },
    responses: { 200: json("What was imported", S.LedgerExportViewSchema), 409: json("The ledger holds borrows") },
    handler: (ctx, request) => {
      const { force } = request.query as { force?: string };
      return ctx.bridge.importLedgerText(String(request.body ?? ""), { force: force === "true" });
    },
  },
  {
    method: "GET",
    url: "/v1/openapi.json",
    operationId: "openapi",
    summary: "This API as an OpenAPI 3.1 document",
    auth: "none",
    responses: { 200: json("OpenAPI 3.1") },
    handler: async (ctx, _request, reply) => reply.type("application/json; charset=utf-8").send(ctx.openapiJson()),
  },
  {
    method: "GET",
    url: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics",
    auth: "none",
    responses: { 200: { description: "Prometheus text format", contentType: "text/plain" } },
    handler: async (ctx, _request, reply) => reply.type(ctx.metrics.contentType).send(await ctx.metrics.render()),
  },
  {
    method: "GET",
    url: "/",
    operationId: "dashboard",
    summary: "The dashboard page (it asks for the token itself)",
    auth: "none",
    responses: { 200: { description: "HTML", contentType: "text/html" } },
    handler: async (ctx, _request, reply) =>
      reply
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header(
          "content-security-policy",
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
        .header("referrer-policy", "no-referrer")
        .send(ctx.dashboardHtml),
  },
  {
    method: "GET",
    url: "/v1/virtual/keys",
    operationId: "virtualKeys",
    summary: "Virtual keys (virtual mode only)",
    auth: "token",
    virtual: true,
    responses: { 200: json("Virtual keys", Type.Array(S.VirtualKeyViewSchema)) },
    handler: (ctx) => virtualControls(ctx).keys(),
  },
  {
    method: "POST",
    url: "/v1/virtual/keys",
    operationId: "virtualCreate",
    summary: "Create a virtual key (demo licenses unless given)",
    auth: "token",
    virtual: true,
    op: "virtual-create",
    body: S.VirtualCreateSchema,
    responses: { 201: json("The new key", S.VirtualKeyViewSchema) },
    handler: async (ctx, request, reply) => {
      const body = (request.body ?? {}) as { serial?: string; licenses?: LicenseInput[] };
      const key = await virtualControls(ctx).create(body);
      reply.code(201);
      return key;
    },
  },
  {
    method: "POST",
    url: "/v1/virtual/keys/:serial/plug",
    operationId: "virtualPlug",
    summary: "Plug a virtual key in",
    auth: "token",
    virtual: true,
    op: "virtual-plug",
    params: S.SerialParamsSchema,
    responses: { 200: json("The key", S.VirtualKeyViewSchema) },
    handler: (ctx, request) => virtualControls(ctx).plug(serialOf(request)),
  },
  {
    method: "POST",
    url: "/v1/virtual/keys/:serial/unplug",
    operationId: "virtualUnplug",
    summary: "Unplug a virtual key",
    auth: "token",
    virtual: true,
    op: "virtual-unplug",
    params: S.SerialParamsSchema,
    responses: { 200: json("The key", S.VirtualKeyViewSchema) },
    handler: (ctx, request) => virtualControls(ctx).unplug(serialOf(request)),
  },
  {
    method: "POST",
    url: "/v1/virtual/clock",
    operationId: "virtualClock",
    summary: "Move every virtual key's clock forward",
    auth: "token",
    virtual: true,
    op: "virtual-clock",
    body: S.VirtualClockSchema,
    responses: { 200: json("The key time now", Type.Object({ keyTime: Type.String() })) },
    handler: (ctx, request) => {
      const { advance } = request.body as { advance: string | number };
      return virtualControls(ctx).advanceClock(typeof advance === "number" ? advance : parseDuration(advance));
    },
  },
  {
    method: "POST",
    url: "/v1/virtual/host",
    operationId: "virtualHost",
    summary: "Change the simulated host identity (IP, hostname, machine id)",
    auth: "token",
    virtual: true,
    op: "virtual-host",
    body: S.VirtualHostSchema,
    responses: { 200: json("The host identity now", S.VirtualHostViewSchema) },
    handler: (ctx, request) => virtualControls(ctx).setHost((request.body ?? {}) as VirtualHostInput),
  },
  {
    method: "POST",
    url: "/v1/virtual/registry/wipe",
    operationId: "virtualWipeRegistry",
    summary: "Wipe the OS registry copy, as a driver uninstall would",
    auth: "token",
    virtual: true,
    op: "virtual-wipe-registry",
    responses: { 200: json("Wiped", Type.Object({ wiped: Type.Boolean() })) },
    handler: async (ctx) => {
      await virtualControls(ctx).wipeRegistry();
      return { wiped: true };
    },
  },
  {
    method: "GET",
    url: "/v1/codemeter",
    operationId: "codemeter",
    summary:
      "The read-only CodeMeter mode: runtime, service, License Tracking, sticks, CodeMeter borrows with expiry, its risks; enabled false without CodeMeter",
    auth: "token",
    responses: { 200: json("The CodeMeter picture", CodeMeterViewSchema) },
    handler: (ctx) => ctx.bridge.codemeter(),
  },
];

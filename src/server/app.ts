import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Bridge } from "../bridge/api.js";
import { isLoopbackHost } from "../config/index.js";
import { layerLogger, rootLogger } from "../log.js";
import { bearerToken, tokenChecker } from "./auth.js";
import { BorrowListCache } from "./borrow-cache.js";
import { DASHBOARD_HTML } from "./dashboard/page.js";
import { RouteNotFoundError, UnauthorizedError } from "./errors.js";
import { HostCheck } from "./host-check.js";
import { LazyCompilers } from "./lazy-compilers.js";
import { ServerMetrics } from "./metrics.js";
import type { Notifier } from "./notify/index.js";
import { buildOpenApi } from "./openapi.js";
import { toProblem } from "./problem.js";
import { ROUTES, type RouteContext, type RouteSpec } from "./routes.js";
import { EventStreams } from "./sse.js";
import { validationError } from "./validation.js";

const log = layerLogger("server");

export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** How long requests in flight may take to finish once the server closes. */
const CLOSE_GRACE_MS = 30_000;
/**
 * Validators not used yet are compiled this long after the server listens, one per event-loop turn,
 * so start-up is not slowed by them and a route's first request usually finds its validator ready.
 */
const WARM_VALIDATORS_AFTER_MS = 500;

export interface ServerOptions {
  bridge: Bridge;
  /** The API token every route but health, metrics, openapi and the dashboard page requires. */
  token: string;
  /** SSE heartbeat interval. Default 15 000 ms. */
  heartbeatMs?: number;
  /** JSON body limit. Default 64 KiB. */
  bodyLimit?: number;
  version?: string;
  /** PEM certificate (chain) and private key: the API is served over HTTPS. */
  tls?: { cert: string; key: string };
  /** The webhooks' notifier, for `/v1/notify` and the notification metrics; its owner starts and closes it. */
  notifier?: Notifier;
  /**
   * Host names requests may be addressed to besides the loopback names. Host headers are checked
   * when the server listens on a loopback address, or on any address once this list is not empty.
   */
  allowedHosts?: readonly string[];
}

export interface KeybridgeServer {
  readonly app: FastifyInstance;
  readonly metrics: ServerMetrics;
  /** Starts listening; resolves to the base URL (`http://127.0.0.1:22380`). */
  listen(host: string, port: number): Promise<string>;
  /** Stops accepting connections, ends event streams, waits for requests in flight. The bridge stays open. */
  close(): Promise<void>;
}

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: RouteSpec["auth"];
  }
}

/** The HTTP API over a bridge: every route of the route table, problem+json errors, token auth. */
export async function createServer(options: ServerOptions): Promise<KeybridgeServer> {
  const { bridge, token } = options;
  const version = options.version ?? "0.1.0";
  const compilers = new LazyCompilers();
  const common = {
    logger: false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true } },
    return503OnClosing: true,
    schemaController: { compilersFactory: compilers.factory },
  };
  // An https.Server has every http.Server method the rest of this file uses (closeIdleConnections too).
  const app =
    options.tls === undefined
      ? Fastify(common)
      : (Fastify({ ...common, https: { cert: options.tls.cert, key: options.tls.key } }) as unknown as FastifyInstance);
  const scheme = options.tls === undefined ? "http" : "https";
  const streams = new EventStreams(bridge, options.heartbeatMs ?? 15_000);
  const metrics = new ServerMetrics(bridge, () => streams.size, options.notifier);
  const borrowCache = new BorrowListCache(bridge);
  const visible = ROUTES.filter((route) => !route.virtual || bridge.virtual !== undefined);
  const openapi = JSON.stringify(buildOpenApi(ROUTES, version));
  const ctx: RouteContext = {
    bridge,
    borrowCache,
    metrics,
    streams,
    notifier: options.notifier,
    dashboardHtml: DASHBOARD_HTML,
    openapiJson: () => openapi,
    version,
    startedAt: Date.now(),
  };

  // Set by listen(): whether Host headers are checked depends on the address listened on.
  let hostCheck: HostCheck | undefined;
  app.addHook("onRequest", async (request) => {
    hostCheck?.check(request.headers.host);
  });

  const tokenIsValid = tokenChecker(token);
  app.addHook("onRequest", async (request) => {
    const auth = request.routeOptions.config.auth;
    if (auth === undefined || auth === "none") return;
    let given = bearerToken(request.headers.authorization);
    if (given === undefined && auth === "query-token") given = (request.query as { token?: string }).token;
    if (!tokenIsValid(given)) throw new UnauthorizedError();
  });

  app.addHook("onResponse", async (request, reply) => {
    // winston formats a line before its level filter runs: skip the work when debug is off.
    if (!rootLogger.isLevelEnabled("debug")) return;
    // The route pattern, never the raw URL: /v1/events may carry the token in its query.
    log.debug("request", {
      method: request.method,
      route: request.routeOptions.url ?? "(unmatched)",
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    });
  });

  app.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const validation = (error as { validation?: unknown[]; validationContext?: string }).validation;
    const context = (error as { validationContext?: string }).validationContext;
    const cause =
      Array.isArray(validation) && validation.length > 0
        ? validationError(validation as never[], context, requestPart(request, context))
        : error;
    const { problem, retryAfter, internal } = toProblem(cause);
    const details = (cause as { details?: { field?: unknown } }).details;
    if (typeof details?.field === "string") problem.field = details.field;
    if (internal) {
      log.error("request failed", {
        method: request.method,
        route: request.routeOptions.url ?? "(unmatched)",
        code: (error as { code?: unknown }).code ?? "INTERNAL",
        error: (error as Error).message,
        stack: (error as Error).stack,
      });
    }
    if (retryAfter !== undefined) reply.header("retry-after", String(retryAfter));
    return reply.code(problem.status).type("application/problem+json").send(problem);
  });

  app.setNotFoundHandler(async (request) => {
    throw new RouteNotFoundError(request.method, request.url.split("?")[0] ?? "/");
  });

  for (const route of visible.filter((r) => r.rawBody === undefined)) register(app, route, ctx);
  // A raw-text route gets its own content-type parsers and size limit.
  for (const route of visible.filter((r) => r.rawBody !== undefined)) {
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(
        "*",
        { parseAs: "string", bodyLimit: route.rawBody?.limit },
        (_request, body, done) => {
          done(null, body);
        },
      );
      register(scope, route, ctx);
    });
  }

  app.addHook("preClose", async () => {
    streams.closeAll();
  });
  app.addHook("onClose", async () => {
    borrowCache.close();
    metrics.close();
  });
  const warmer = new ValidatorWarmer(compilers);
  app.addHook("onClose", async () => warmer.stop());
  await app.ready();

  return {
    app,
    metrics,
    async listen(host, port) {
      const allowedHosts = options.allowedHosts ?? [];
      if (isLoopbackHost(host) || allowedHosts.length > 0) {
        // A specific address listened on is a name requests may use; 0.0.0.0 and :: are not names.
        const own = host === "0.0.0.0" || host === "::" ? [] : [host.includes(":") ? `[${host}]` : host];
        hostCheck = new HostCheck([...allowedHosts, ...own]);
      }
      await app.listen({ host, port });
      warmer.start(WARM_VALIDATORS_AFTER_MS);
      const address = app.server.address();
      const boundPort = typeof address === "object" && address !== null ? address.port : port;
      const shownHost = host.includes(":") ? `[${host}]` : host;
      return `${scheme}://${shownHost}:${boundPort}`;
    },
    async close() {
      // Keep-alive connections that were busy when closing began turn idle later; sweep them as they
      // do, and cut whatever is still open after the grace period.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 25);
      const deadline = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
      try {
        await app.close();
      } finally {
        clearInterval(sweep);
        clearTimeout(deadline);
      }
    },
  };
}

/** Compiles the validators no request has needed yet in the background, one per event-loop turn. */
class ValidatorWarmer {
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private stopped = false;

  constructor(private readonly compilers: LazyCompilers) {}

  start(delayMs: number): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => this.step(), delayMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
  }

  private step(): void {
    if (this.stopped) return;
    try {
      if (!this.compilers.compileNext()) return;
    } catch (error) {
      // The route's requests will fail with the same error when they compile it themselves.
      log.error("compiling a route's request schema failed", { error: (error as Error).message });
    }
    this.immediate = setImmediate(() => this.step());
    this.immediate.unref();
  }
}

/** The part of the request a validation error is about. */
function requestPart(request: FastifyRequest, context: string | undefined): unknown {
  if (context === "querystring") return request.query;
  if (context === "params") return request.params;
  if (context === "headers") return request.headers;
  return request.body;
}

function register(app: FastifyInstance, route: RouteSpec, ctx: RouteContext): void {
  const schema: Record<string, unknown> = {};
  if (route.params) schema.params = route.params;
  if (route.querystring) schema.querystring = route.querystring;
  if (route.body) schema.body = route.body;
  const mutating = route.method !== "GET";
  app.route({
    method: route.method,
    url: route.url,
    schema,
    config: { auth: route.auth },
    ...(route.rawBody ? { bodyLimit: route.rawBody.limit } : {}),
    handler: async (request, reply) => {
      const run = () => route.handler(ctx, request, reply);
      try {
        return route.op === undefined ? await run() : await ctx.metrics.observe(route.op, route.keyOp === true, run);
      } finally {
        if (mutating) ctx.borrowCache.invalidate();
      }
    },
  });
}

import { STATUS_CODES } from "node:http";
import { isCodedError } from "../errors.js";

export interface HttpMapping {
  status: number;
  /** Seconds a client should wait before retrying (503/504). */
  retryAfter?: number;
}

const at = (status: number, retryAfter?: number): HttpMapping =>
  retryAfter === undefined ? { status } : { status, retryAfter };

/**
 * The one table from error codes to HTTP statuses. Codes from every layer meet here; a code not
 * listed falls back on its shape (`*_NOT_FOUND` 404, `*INVALID*` 400, `*_REFUSED`/`*_CONFLICT` 409),
 * and anything else is a 500 whose body tells nothing of the internals.
 */
export const STATUS_BY_CODE: Readonly<Record<string, HttpMapping>> = {
  VALIDATION: at(400),
  MALFORMED_JSON: at(400),
  BAD_REQUEST: at(400),
  KEY_BAD_REQUEST: at(400),
  UNKNOWN_PREFLIGHT_ACTION: at(400),
  DURATION_INVALID: at(400),
  LEDGER_INVALID_INPUT: at(400),
  LEDGER_EXPORT_CORRUPT: at(400),
  LEDGER_EXPORT_UNSUPPORTED: at(400),
  LEDGER_TOO_NEW: at(400),
  INVALID_HOST_VALUE: at(400),
  VIRTUAL_KEY_CLOCK_OUT_OF_RANGE: at(400),
  UNAUTHORIZED: at(401),
  KEY_COUNTERFEIT: at(403),
  NOT_FOUND: at(404),
  BORROW_NOT_FOUND: at(404),
  UNKNOWN_BORROW: at(404),
  KEY_UNKNOWN_BORROW: at(404),
  KEY_NOT_FOUND: at(404),
  UNKNOWN_KEY: at(404),
  KEY_UNKNOWN_PRODUCT: at(404),
  UNKNOWN_PRODUCT: at(404),
  VIRTUAL_KEY_NOT_FOUND: at(404),
  NOT_VIRTUAL: at(404),
  WEBHOOK_NOT_FOUND: at(404),
  NO_BORROWABLE: at(409),
  KEY_NO_BORROWABLE: at(409),
  LICENSE_UPDATE_REFUSED: at(409),
  BORROWS_OUTSTANDING: at(409),
  MAINTENANCE_PLANNED: at(409),
  KEY_NOT_ACTIVE: at(409),
  KEY_REBIND_REFUSED: at(409),
  KEY_STORAGE_FULL: at(409),
  LEDGER_IMPORT_CONFLICT: at(409),
  DATA_DIR_LOCKED: at(409),
  LEDGER_DUPLICATE: at(409),
  VIRTUAL_KEY_EXISTS: at(409),
  ALREADY_RETURNED: at(409),
  CODEMETER_BORROW_READ_ONLY: at(409),
  BINDING_MISMATCH: at(409),
  TAG_UNKNOWN: at(409),
  IDEMPOTENCY_KEY_REUSED: at(422),
  KEY_UPDATE_NOT_SIGNED: at(409),
  KEY_SIGNED_UPDATES_UNSUPPORTED: at(409),
  KEY_NOT_PROVISIONED: at(409),
  KEY_WRONG_SERIAL: at(409),
  KEY_BAD_VENDOR_SIGNATURE: at(409),
  KEY_STALE_COUNTER: at(409),
  KEY_ALREADY_PROVISIONED: at(409),
  PAYLOAD_TOO_LARGE: at(413),
  HOST_NOT_ALLOWED: at(421),
  UNSUPPORTED_MEDIA_TYPE: at(415),
  KEY_ABSENT: at(503, 5),
  NO_KEY: at(503, 5),
  KEY_DISCONNECTED: at(503, 5),
  TRANSPORT_CLOSED: at(503, 5),
  TRANSPORT_QUEUE_FULL: at(503, 1),
  KEY_BUSY: at(503, 1),
  BRIDGE_CLOSED: at(503, 5),
  BRIDGE_UNAVAILABLE: at(503, 5),
  SHUTTING_DOWN: at(503, 5),
  LEDGER_READ_ONLY: at(503, 30),
  LEDGER_DISK_FULL: at(503, 30),
  LEDGER_IO: at(503, 30),
  LEDGER_FILE_LOST: at(503, 60),
  DATA_DIR_UNWRITABLE: at(503, 30),
  REGISTRY_LOCKED: at(503, 1),
  TRANSPORT_TIMEOUT: at(504, 1),
};

/** Fastify's own request errors, renamed to stable codes. */
const FASTIFY_CODES: Readonly<Record<string, { code: string; detail: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: "PAYLOAD_TOO_LARGE",
    detail: "the request body is larger than this route allows",
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "UNSUPPORTED_MEDIA_TYPE",
    detail: "unsupported Content-Type; send application/json",
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "MALFORMED_JSON", detail: "the request body is not valid JSON" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "MALFORMED_JSON", detail: "the request body is empty but Content-Type is JSON" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "BAD_REQUEST", detail: "Content-Length does not match the body" },
};

export function mappingFor(code: string): HttpMapping {
  const listed = STATUS_BY_CODE[code];
  if (listed !== undefined) return listed;
  if (/_NOT_FOUND$/.test(code)) return at(404);
  if (/INVALID/.test(code)) return at(400);
  if (/_(REFUSED|CONFLICT)$/.test(code)) return at(409);
  if (/_(BUSY|UNAVAILABLE)$/.test(code)) return at(503, 1);
  return at(500);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extra: string]: unknown;
}

export interface ProblemResult {
  problem: Problem;
  retryAfter: number | undefined;
  /** True when the error was not one the API expects: log it with its stack. */
  internal: boolean;
}

export function problemOf(code: string, status: number, detail: string, extra: Record<string, unknown> = {}): Problem {
  return {
    ...extra,
    type: `urn:keybridge:problem:${code.toLowerCase().replaceAll("_", "-")}`,
    title: STATUS_CODES[status] ?? "Error",
    status,
    detail,
    code,
  };
}

/** Turns anything thrown by a handler or by fastify into an RFC 9457 problem. */
export function toProblem(error: unknown): ProblemResult {
  const fastifyCode = (error as { code?: unknown } | null)?.code;
  if (typeof fastifyCode === "string" && fastifyCode in FASTIFY_CODES) {
    const known = FASTIFY_CODES[fastifyCode]!;
    const status = mappingFor(known.code).status;
    return { problem: problemOf(known.code, status, known.detail), retryAfter: undefined, internal: false };
  }
  if (isCodedError(error) && !String(error.code).startsWith("FST_")) {
    const mapping = mappingFor(error.code);
    if (mapping.status >= 500 && mapping.retryAfter === undefined) {
      return { problem: problemOf("INTERNAL", 500, internalDetail), retryAfter: undefined, internal: true };
    }
    const details = (error as { details?: unknown }).details;
    const extra = details !== null && typeof details === "object" ? { details } : {};
    return {
      problem: problemOf(error.code, mapping.status, error.message, extra),
      retryAfter: mapping.retryAfter,
      internal: false,
    };
  }
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
    return {
      problem: problemOf("BAD_REQUEST", statusCode, (error as Error).message),
      retryAfter: undefined,
      internal: false,
    };
  }
  return { problem: problemOf("INTERNAL", 500, internalDetail), retryAfter: undefined, internal: true };
}

const internalDetail = "the daemon failed to carry out the request; its log has the details";

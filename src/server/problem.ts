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
 * The one table from error codes to HTTP statuses: every code a layer of the daemon can throw is
 * listed (test/unit/server/status-table.test.ts collects them from the sources and checks), each
 * with the status a client acts on. A failure the client cannot act on is listed as 500: it is
 * answered as INTERNAL with a body that tells nothing of the internals, and logged. A code not
 * listed (an error the project did not map where it entered, such as a bare errno) is a 500 too.
 */
export const STATUS_BY_CODE: Readonly<Record<string, HttpMapping>> = {
  // The request itself is wrong: nothing was changed.
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
  UPDATE_FILE_INVALID: at(400),
  VIRTUAL_KEY_CLOCK_OUT_OF_RANGE: at(400),
  UNAUTHORIZED: at(401),
  KEY_COUNTERFEIT: at(403),
  // What the request names does not exist.
  NOT_FOUND: at(404),
  NOT_VIRTUAL: at(404),
  UNKNOWN_BORROW: at(404),
  UNKNOWN_PRODUCT: at(404),
  KEY_NOT_FOUND: at(404),
  WEBHOOK_NOT_FOUND: at(404),
  // The request is well-formed, but the state of the keys or the ledger refuses it now.
  NO_BORROWABLE: at(409),
  BORROWS_OUTSTANDING: at(409),
  MAINTENANCE_PLANNED: at(409),
  ALREADY_RETURNED: at(409),
  CODEMETER_BORROW_READ_ONLY: at(409),
  BINDING_MISMATCH: at(409),
  TAG_UNKNOWN: at(409),
  KEY_AMBIGUOUS: at(409),
  KEY_NOT_ACTIVE: at(409),
  KEY_REBIND_REFUSED: at(409),
  KEY_STORAGE_FULL: at(409),
  KEY_UPDATE_NOT_SIGNED: at(409),
  KEY_SIGNED_UPDATES_UNSUPPORTED: at(409),
  KEY_NOT_PROVISIONED: at(409),
  KEY_WRONG_SERIAL: at(409),
  KEY_BAD_VENDOR_SIGNATURE: at(409),
  KEY_STALE_COUNTER: at(409),
  KEY_ALREADY_PROVISIONED: at(409),
  LEDGER_IMPORT_CONFLICT: at(409),
  LEDGER_DUPLICATE: at(409),
  DATA_DIR_LOCKED: at(409),
  PAYLOAD_TOO_LARGE: at(413),
  UNSUPPORTED_MEDIA_TYPE: at(415),
  HOST_NOT_ALLOWED: at(421),
  IDEMPOTENCY_KEY_REUSED: at(422),
  // Passing conditions: the same request may succeed after Retry-After seconds.
  KEY_ABSENT: at(503, 5),
  KEY_DISCONNECTED: at(503, 5),
  TRANSPORT_CLOSED: at(503, 5),
  BRIDGE_CLOSED: at(503, 5),
  BRIDGE_UNAVAILABLE: at(503, 5),
  TRANSPORT_QUEUE_FULL: at(503, 1),
  KEY_BUSY: at(503, 1),
  REGISTRY_LOCKED: at(503, 1),
  REGISTRY_UNAVAILABLE: at(503, 1),
  HID_BACKEND_UNAVAILABLE: at(503, 1),
  LEDGER_READ_ONLY: at(503, 30),
  LEDGER_DISK_FULL: at(503, 30),
  LEDGER_IO: at(503, 30),
  DATA_DIR_UNWRITABLE: at(503, 30),
  LEDGER_FILE_LOST: at(503, 60),
  TRANSPORT_TIMEOUT: at(504, 1),
  // Failures inside the daemon: answered as INTERNAL, logged with their details.
  INTERNAL: at(500),
  KEY_UNKNOWN_COMMAND: at(500),
  KEY_CANCELLED: at(500),
  KEY_INTERNAL: at(500),
  KEY_STATUS_UNKNOWN: at(500),
  KEY_ACCESS_DENIED: at(500),
  KEY_FRAMING_ERROR: at(500),
  KEY_PROTOCOL_UNSUPPORTED: at(500),
  TRANSPORT_ABORTED: at(500),
  HID_IO_FAILED: at(500),
  REPLAY_MISMATCH: at(500),
  LEDGER_CORRUPT: at(500),
  LEDGER_CLOSED: at(500),
  LEDGER_NOT_FOUND: at(500),
  LEDGER_OP_FINISHED: at(500),
  LEDGER_KEY_PINNED: at(500),
  REGISTRY_CORRUPT: at(500),
  REGISTRY_ACCESS_DENIED: at(500),
  REGISTRY_IO: at(500),
  REGISTRY_INVALID_ARGUMENT: at(500),
  REGISTRY_UNSUPPORTED_VALUE: at(500),
  REGISTRY_CLOSED: at(500),
  HOST_PROBE_FAILED: at(500),
  HOST_STATE_CORRUPT: at(500),
  HOST_STATE_IO_FAILED: at(500),
  MONITOR_CLOSED: at(500),
  CONFIG_INVALID: at(500),
  CONFIG_FILE_UNREADABLE: at(500),
  CODEMETER_CLOSED: at(500),
  CODEMETER_POSITION_WRITE_FAILED: at(500),
  DAEMON_FILE_IO: at(500),
  LISTEN_FAILED: at(500),
  TLS_SETUP_FAILED: at(500),
  NOTIFY_SETUP_FAILED: at(500),
  NOTIFY_OUTBOX_IO: at(500),
  VIRTUAL_STATE_UNREADABLE: at(500),
  VIRTUAL_STATE_UNWRITABLE: at(500),
  VIRTUAL_KEY_STATE_CORRUPT: at(500),
  VIRTUAL_KEY_STATE_UNREADABLE: at(500),
  VIRTUAL_KEY_STATE_WRITE_FAILED: at(500),
  VIRTUAL_KEY_SERIAL_MISMATCH: at(500),
  VIRTUAL_KEY_DUPLICATE_SERIAL: at(500),
  VIRTUAL_KEY_UNKNOWN_DEVICE: at(500),
  VIRTUAL_KEY_DEVICE_UNPLUGGED: at(500),
  VIRTUAL_KEY_PORT_CLOSED: at(500),
  VIRTUAL_KEY_BAD_OPTION: at(500),
  PROTOCOL_BAD_REPORT_SIZE: at(500),
  PROTOCOL_WRONG_CHANNEL: at(500),
  PROTOCOL_BAD_SEQUENCE: at(500),
  PROTOCOL_LENGTH_TOO_LARGE: at(500),
  PROTOCOL_UNEXPECTED_INIT: at(500),
  PROTOCOL_TRUNCATED: at(500),
  PROTOCOL_BAD_FIELD: at(500),
  PROTOCOL_UNKNOWN_FRAME_COMMAND: at(500),
  PROTOCOL_BAD_SIGNATURE: at(500),
  PROTOCOL_MISMATCHED_RESPONSE: at(500),
  PROTOCOL_MESSAGE_TOO_LARGE: at(500),
  PROTOCOL_BAD_UPDATE_FILE: at(500),
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
  return STATUS_BY_CODE[code] ?? at(500);
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

import { KeybridgeError } from "../errors.js";

/** A request body, path or query failed validation; `field` names the offending part. */
export class RequestValidationError extends KeybridgeError {
  constructor(message: string, field: string) {
    super("VALIDATION", message, { details: { field } });
  }
}

/** No bearer token, or the wrong one. */
export class UnauthorizedError extends KeybridgeError {
  constructor() {
    super("UNAUTHORIZED", "a valid API token is required (Authorization: Bearer <token>)");
  }
}

/** No route or resource at this path (virtual routes in real mode included). */
export class RouteNotFoundError extends KeybridgeError {
  constructor(method: string, path: string) {
    super("NOT_FOUND", `no route ${method} ${path}`);
  }
}

/** The daemon's bridge could not be started. */
export class BridgeUnavailableError extends KeybridgeError {
  constructor(message: string, cause?: unknown) {
    super("BRIDGE_UNAVAILABLE", message, { cause });
  }
}

/** The token or daemon file in the data directory could not be read or written. */
export class DaemonFileError extends KeybridgeError {
  constructor(message: string, file: string, cause?: unknown) {
    super("DAEMON_FILE_IO", message, { cause, details: { file } });
  }
}

/** The Host header names neither this machine's loopback nor a configured name: a DNS-rebinding page, or a proxy to configure. */
export class HostNotAllowedError extends KeybridgeError {
  constructor(host: string, allowed: readonly string[]) {
    const extra = allowed.length === 0 ? "" : ` or ${allowed.join(", ")}`;
    super(
      "HOST_NOT_ALLOWED",
      `this daemon answers requests for localhost, 127.0.0.1 or [::1]${extra}, not for '${host}'; ` +
        "if you reach it under that name on purpose (a reverse proxy, a DNS name), add it to allowedHosts " +
        "(KEYBRIDGE_ALLOWED_HOSTS or serve --allowed-hosts)",
      { details: { host } },
    );
  }
}

import { KeybridgeError } from "../errors.js";

/** The host's machine id could not be read at all, so no binding can be computed. */
export class HostProbeError extends KeybridgeError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("HOST_PROBE_FAILED", message, options);
  }
}

/** A state file of this layer (clock last-seen, simulated host) exists but does not parse. */
export class HostStateCorruptError extends KeybridgeError {
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super("HOST_STATE_CORRUPT", `state file ${path} is corrupt: ${reason}; remove it to start afresh`, {
      ...options,
      details: { path },
    });
  }
}

/** A state file of this layer could not be read or written (permissions, full disk, ...). */
export class HostStateIoError extends KeybridgeError {
  constructor(path: string, operation: "read" | "write", options?: { cause?: unknown }) {
    const reason = errnoCode(options?.cause);
    super("HOST_STATE_IO_FAILED", `cannot ${operation} state file ${path}${reason ? ` (${reason})` : ""}`, {
      ...options,
      details: { path, operation, errno: reason },
    });
  }
}

/** A value given to the simulated host (IP address, hostname, machine id, version) is not acceptable. */
export class InvalidHostValueError extends KeybridgeError {
  constructor(field: string, value: unknown, reason: string) {
    super("INVALID_HOST_VALUE", `invalid ${field} ${JSON.stringify(value)}: ${reason}`, { details: { field, value } });
  }
}

/** A monitor was closed while it was being started. */
export class MonitorClosedError extends KeybridgeError {
  constructor(monitor: string) {
    super("MONITOR_CLOSED", `${monitor} was closed before it started`);
  }
}

function errnoCode(cause: unknown): string | undefined {
  if (cause instanceof Error && typeof (cause as NodeJS.ErrnoException).code === "string") {
    return (cause as NodeJS.ErrnoException).code;
  }
  return undefined;
}

import { KeybridgeError } from "../errors.js";

/** The CodeMeter watch was used after `close()`. */
export class CodeMeterWatchClosedError extends KeybridgeError {
  constructor(operation: string) {
    super("CODEMETER_CLOSED", `the CodeMeter watch is closed (${operation})`, { details: { operation } });
  }
}

/** The tracking log's read positions could not be written to the data directory (full disk, permissions). */
export class CodeMeterPositionWriteError extends KeybridgeError {
  constructor(path: string, options: { cause: unknown }) {
    const errno = errnoOf(options.cause);
    super(
      "CODEMETER_POSITION_WRITE_FAILED",
      `cannot save the License Tracking read positions to ${path}${errno ? ` (${errno})` : ""}; after a restart the log is read again from the start`,
      { cause: options.cause, details: { path, errno } },
    );
  }
}

export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

import { KeybridgeError } from "../errors.js";

/** A configuration value is malformed; the message names the field, the value's source and the reason. */
export class ConfigInvalidError extends KeybridgeError {
  constructor(message: string, details: { field: string; source: string }) {
    super("CONFIG_INVALID", message, { details });
  }
}

/** The configuration file exists but cannot be read or is not a JSON object. */
export class ConfigFileError extends KeybridgeError {
  constructor(message: string, file: string, cause?: unknown) {
    super("CONFIG_FILE_UNREADABLE", message, { cause, details: { file } });
  }
}

/** A duration string such as `31d` could not be parsed. */
export class DurationInvalidError extends KeybridgeError {
  constructor(text: string) {
    super("DURATION_INVALID", `expected a duration like 31d, 2h, 15m, 90s or 500ms, got '${text}'`, {
      details: { text },
    });
  }
}

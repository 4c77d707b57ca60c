import { KeybridgeError } from "../errors.js";

/** Nothing answers at the daemon's URL. */
export class DaemonNotRunningError extends KeybridgeError {
  constructor(url: string, cause?: unknown) {
    super(
      "DAEMON_NOT_RUNNING",
      `keybridge daemon is not running at ${url} — start it with \`keybridge serve\` (or \`npm start\` for the virtual key)`,
      { cause, details: { url } },
    );
  }
}

/** The daemon answered with a problem+json error; `code` is the API's stable code. */
export class ApiError extends KeybridgeError {
  readonly status: number;
  constructor(code: string, status: number, message: string, details?: Record<string, unknown>) {
    super(code, message, details === undefined ? undefined : { details });
    this.status = status;
  }
}

/** No API token: neither KEYBRIDGE_TOKEN nor `<dataDir>/api-token`. */
/** The daemon serves HTTPS with a certificate this client does not trust. */
export class TlsUntrustedError extends KeybridgeError {
  constructor(url: string, cause: unknown) {
    super(
      "TLS_UNTRUSTED",
      `the certificate of ${url} is not trusted (${(cause as Error).message}); point KEYBRIDGE_TLS_CA at the ` +
        "daemon's certificate (on the daemon's host the CLI finds it in daemon.json by itself)",
      { cause, details: { url } },
    );
  }
}

/** A file named by KEYBRIDGE_TLS_CA or daemon.json's tlsCert cannot be read. */
export class TlsCaUnreadableError extends KeybridgeError {
  constructor(file: string, cause: unknown) {
    super("TLS_CA_UNREADABLE", `cannot read the certificate to trust, ${file}: ${(cause as Error).message}`, {
      cause,
      details: { file },
    });
  }
}

export class TokenMissingError extends KeybridgeError {
  constructor(file: string) {
    super(
      "TOKEN_MISSING",
      `no API token at ${file}; pass the daemon's data directory with --data-dir, or set KEYBRIDGE_TOKEN`,
      { details: { file } },
    );
  }
}

/** `notify test` with no webhook configured: nothing could be tested. */
export class NoWebhooksError extends KeybridgeError {
  constructor() {
    super(
      "NO_WEBHOOKS",
      "no webhook is configured, so nothing was tested. Add one to keybridge.json in the data directory " +
        '("webhooks": [{ "url": "https://hooks.example.com/keybridge" }]) or set KEYBRIDGE_WEBHOOKS, then restart the daemon',
    );
  }
}

/** A file named on the command line could not be read or written, or holds the wrong shape. */
export class CliFileError extends KeybridgeError {
  constructor(
    code: "FILE_UNREADABLE" | "FILE_UNWRITABLE" | "FILE_INVALID",
    message: string,
    file: string,
    cause?: unknown,
  ) {
    super(code, message, { cause, details: { file } });
  }
}

/** `license-update SERIAL FILE` where FILE is a signed update for another key: refused before anything is sent. */
export class UpdateForAnotherKeyError extends KeybridgeError {
  constructor(file: string, serial: string, fileSerial: string) {
    super(
      "KEY_WRONG_SERIAL",
      `${file} is a license update for key ${fileSerial}, not ${serial}; a key accepts only an update signed for its ` +
        "own serial. Nothing was sent",
      { details: { file, serial, fileSerial } },
    );
  }
}

/** `codemeter capture --out` names a file of CodeMeter's, or one inside its directories: keybridge never writes there. */
export class CaptureOutRefusedError extends KeybridgeError {
  constructor(file: string, what: string) {
    super(
      "CAPTURE_OUT_REFUSED",
      `${file} is ${what}: keybridge never writes anything of CodeMeter's; write the capture elsewhere (e.g. --out /tmp/codemeter-capture.json)`,
      { details: { file } },
    );
  }
}

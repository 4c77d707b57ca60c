import { KeybridgeError } from "../errors.js";

type ErrorOptions = { cause?: unknown; details?: Record<string, unknown> };

/**
 * Failures of the physical link and of the exchange machinery. Each class is one thing a
 * caller can act on; its `code` is part of the public contract.
 */

/** The device vanished (unplugged, reset, or closed under us). The transport stays failed until reopened. */
export class KeyDisconnected extends KeybridgeError {
  constructor(message = "the key was disconnected", options?: ErrorOptions) {
    super("KEY_DISCONNECTED", message, options);
  }
}

/** The OS refused to open the device: almost always missing udev rules or group membership. */
export class KeyAccessDenied extends KeybridgeError {
  constructor(path: string, options?: ErrorOptions) {
    super(
      "KEY_ACCESS_DENIED",
      `cannot open the key at ${path}: permission denied or device busy. On Linux install the keybridge udev ` +
        "rules (udev/), add the service user to the keybridge group, run `udevadm control --reload-rules && " +
        "udevadm trigger` and replug the key.",
      { ...options, details: { path, ...options?.details } },
    );
  }
}

/** No complete answer arrived before the caller's deadline (time spent queued counts). */
export class TransportTimeout extends KeybridgeError {
  constructor(timeoutMs: number, options?: ErrorOptions) {
    super("TRANSPORT_TIMEOUT", `no answer from the key within ${timeoutMs} ms`, {
      ...options,
      details: { timeoutMs, ...options?.details },
    });
  }
}

/** Too many callers are already waiting for the key. */
export class TransportQueueFull extends KeybridgeError {
  constructor(limit: number) {
    super("TRANSPORT_QUEUE_FULL", `${limit} exchanges are already waiting for the key; try again later`, {
      details: { limit },
    });
  }
}

/** The caller's AbortSignal fired, or the transport was closed while the call waited. */
export class TransportAborted extends KeybridgeError {
  constructor(message = "the exchange was aborted", options?: ErrorOptions) {
    super("TRANSPORT_ABORTED", message, options);
  }
}

/** The key kept answering BUSY (it serves another channel) until the caller's deadline. */
export class KeyBusy extends KeybridgeError {
  constructor(timeoutMs: number) {
    super("KEY_BUSY", `the key stayed busy with another client for ${timeoutMs} ms`, { details: { timeoutMs } });
  }
}

/** node-hid could not be loaded: its native binding needs libusb-1.0 and libudev. */
export class HidBackendUnavailable extends KeybridgeError {
  constructor(options?: ErrorOptions) {
    super(
      "HID_BACKEND_UNAVAILABLE",
      "the USB HID backend (node-hid / usb) could not be loaded; on Debian/Ubuntu run " +
        "`apt-get install libusb-1.0-0 libudev1`, or run keybridge in virtual mode",
      options,
    );
  }
}

/** Names of the FramingError byte the key may send in an ERROR frame. */
const FRAMING_ERROR_NAMES: Readonly<Record<number, string>> = {
  1: "INVALID_CMD",
  2: "INVALID_PAR",
  3: "INVALID_LEN",
  4: "INVALID_SEQ",
  5: "MSG_TIMEOUT",
  6: "CHANNEL_BUSY",
  11: "INVALID_CHANNEL",
  127: "OTHER",
};

/** The key rejected our framing with an ERROR frame. The transport resynchronises before the next call. */
export class FramingErrorReceived extends KeybridgeError {
  readonly framingError: number;
  constructor(framingError: number) {
    const name = FRAMING_ERROR_NAMES[framingError] ?? `0x${framingError.toString(16)}`;
    super("KEY_FRAMING_ERROR", `the key reported a framing error: ${name}`, {
      details: { framingError, name },
    });
    this.framingError = framingError;
  }
}

/** The key speaks a protocol version this build does not. */
export class UnsupportedProtocolVersion extends KeybridgeError {
  constructor(version: number, supported: number) {
    super("KEY_PROTOCOL_UNSUPPORTED", `the key speaks protocol version ${version}; keybridge supports ${supported}`, {
      details: { version, supported },
    });
  }
}

/** A node-hid failure that is none of the above (kept with its original message as cause). */
export class HidIoError extends KeybridgeError {
  constructor(operation: string, options?: ErrorOptions) {
    super("HID_IO_FAILED", `USB HID ${operation} failed: ${messageOf(options?.cause)}`, options);
  }
}

/** A replayed session diverged from its fixture. */
export class ReplayMismatch extends KeybridgeError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("REPLAY_MISMATCH", message, details === undefined ? undefined : { details });
  }
}

/** The transport was used after close(). */
export class TransportClosed extends KeybridgeError {
  constructor() {
    super("TRANSPORT_CLOSED", "the transport is closed");
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Errors of the virtual key and bus. native-mocks may import only src/protocol/, so this mirrors
 * the shape of KeybridgeError (stable UPPER_SNAKE `code`, optional `details`, `cause`) without
 * subclassing it. The node-hid and usb stand-ins do NOT use this class: they reproduce the plain
 * `Error` texts of the real modules, because that is what a transport has to map.
 */
export const VirtualKeyErrorCode = {
  /** The state file exists but its checksum or structure is wrong; it is never silently reset. */
  STATE_CORRUPT: "VIRTUAL_KEY_STATE_CORRUPT",
  /** The state file could not be read (permissions, I/O). */
  STATE_UNREADABLE: "VIRTUAL_KEY_STATE_UNREADABLE",
  /** Writing the state file failed; the key answers the command with INTERNAL or STORAGE_FULL. */
  STATE_WRITE_FAILED: "VIRTUAL_KEY_STATE_WRITE_FAILED",
  /** A clock move beyond MAX_CLOCK_OFFSET_MS from real time; refused before anything is saved. */
  CLOCK_OUT_OF_RANGE: "VIRTUAL_KEY_CLOCK_OUT_OF_RANGE",
  /** The state file belongs to a key with another serial. */
  SERIAL_MISMATCH: "VIRTUAL_KEY_SERIAL_MISMATCH",
  /** A key or stick with this serial is already on the bus. */
  DUPLICATE_SERIAL: "VIRTUAL_KEY_DUPLICATE_SERIAL",
  /** No device with this serial is on the bus. */
  UNKNOWN_DEVICE: "VIRTUAL_KEY_UNKNOWN_DEVICE",
  /** The device was unplugged while the port was open or in use. */
  DEVICE_UNPLUGGED: "VIRTUAL_KEY_DEVICE_UNPLUGGED",
  /** The port was closed by its owner. */
  PORT_CLOSED: "VIRTUAL_KEY_PORT_CLOSED",
  /** An option out of range (negative latency, serial too long, ...). */
  BAD_OPTION: "VIRTUAL_KEY_BAD_OPTION",
} as const;
export type VirtualKeyErrorCode = (typeof VirtualKeyErrorCode)[keyof typeof VirtualKeyErrorCode];

export class VirtualKeyError extends Error {
  readonly code: VirtualKeyErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: VirtualKeyErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VirtualKeyError";
    this.code = code;
    this.details = options?.details;
  }
}

export function isVirtualKeyError(value: unknown, code?: VirtualKeyErrorCode): value is VirtualKeyError {
  return value instanceof VirtualKeyError && (code === undefined || value.code === code);
}

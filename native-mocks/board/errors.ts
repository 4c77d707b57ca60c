/**
 * Errors of the board commands (`keybridge key ...`). Same shape as KeybridgeError (stable
 * UPPER_SNAKE `code`, `details`, `cause`): native-mocks may import only src/protocol/.
 */
export const BoardKeyErrorCode = {
  /** No key state at the path: the board was never initialised with `keybridge key init`. */
  NOT_INITIALISED: "BOARD_KEY_NOT_INITIALISED",
  /** A serial a key cannot have (empty, too long, not printable). */
  BAD_SERIAL: "BOARD_KEY_BAD_SERIAL",
  /** The state file already holds a key with another serial; a key's serial never changes. */
  OTHER_SERIAL: "BOARD_KEY_OTHER_SERIAL",
  /** Another process serves this key (its lock is held by a live process). */
  SERVING: "BOARD_KEY_SERVING",
  /** No USB device controller, an unknown one, or several when none was named. */
  UDC_NOT_FOUND: "BOARD_UDC_NOT_FOUND",
  /** No configfs usb_gadget directory: configfs not mounted or libcomposite not loaded. */
  NO_GADGET_SUPPORT: "BOARD_NO_GADGET_SUPPORT",
  /** A wipe was asked without confirming it. */
  NOT_CONFIRMED: "BOARD_KEY_NOT_CONFIRMED",
  /** The lock or the state directory could not be created or read. */
  STATE_DIR_FAILED: "BOARD_KEY_STATE_DIR_FAILED",
} as const;
export type BoardKeyErrorCode = (typeof BoardKeyErrorCode)[keyof typeof BoardKeyErrorCode];

export class BoardKeyError extends Error {
  readonly code: BoardKeyErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: BoardKeyErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BoardKeyError";
    this.code = code;
    this.details = options?.details;
  }
}

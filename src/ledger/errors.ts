import { KeybridgeError } from "../errors.js";

type ErrorOptions = { cause?: unknown; details?: Record<string, unknown> };

/** The ledger file is damaged (truncated, bit-flipped, not a database, or a row fails its checksum). */
export class LedgerCorruptError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_CORRUPT", message, options);
  }
}

/** The ledger was written by a newer keybridge whose schema this version does not know. */
export class LedgerTooNewError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_TOO_NEW", message, options);
  }
}

export class LedgerDiskFullError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_DISK_FULL", message, options);
  }
}

/** The ledger directory or file cannot be written (permissions, read-only mount, read-only open). */
export class LedgerReadOnlyError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_READ_ONLY", message, options);
  }
}

/** Any other failure of the file system or of SQLite's I/O. */
export class LedgerIoError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_IO", message, options);
  }
}

/**
 * The ledger file was deleted or replaced while open: what would be written now goes to a file the
 * next start does not open, so every write is refused until keybridge is restarted.
 */
export class LedgerFileLostError extends KeybridgeError {
  constructor(file: string, how: "missing" | "replaced") {
    super(
      "LEDGER_FILE_LOST",
      `the ledger file ${file} was ${how === "missing" ? "deleted" : "replaced by another file"} while keybridge runs; ` +
        "nothing can be recorded until keybridge is restarted (see keybridge status for what to do)",
      { details: { file, how } },
    );
  }
}

export class LedgerClosedError extends KeybridgeError {
  constructor(message = "the ledger is closed", options?: ErrorOptions) {
    super("LEDGER_CLOSED", message, options);
  }
}

/** A row or argument violates the ledger's contract (bad hex, unsafe integer, unknown state). */
export class LedgerInvalidInputError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_INVALID_INPUT", message, options);
  }
}

/** A borrow (serial, id) or an op id that is already recorded. */
export class LedgerDuplicateError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_DUPLICATE", message, options);
  }
}

export class LedgerNotFoundError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_NOT_FOUND", message, options);
  }
}

/** An op was advanced or finished after it had already finished. */
export class LedgerOpFinishedError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_OP_FINISHED", message, options);
  }
}

/** A serial is already pinned to a different public key; the ledger never re-pins silently. */
export class LedgerKeyPinnedError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_KEY_PINNED", message, options);
  }
}

/** An export file fails its checksum, does not parse, or is not a ledger export. */
export class LedgerExportCorruptError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_EXPORT_CORRUPT", message, options);
  }
}

/** An export file has a format version this keybridge does not read. */
export class LedgerExportUnsupportedError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_EXPORT_UNSUPPORTED", message, options);
  }
}

/** Import would overwrite different outstanding borrows or a different pinned key; pass `force` to take over. */
export class LedgerImportConflictError extends KeybridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super("LEDGER_IMPORT_CONFLICT", message, options);
  }
}

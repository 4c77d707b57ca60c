import { KeybridgeError } from "../errors.js";

type ErrorOptions = { cause?: unknown; details?: Record<string, unknown> };

/** No keybridge key is present (or none holds the product): the API answers 503 with Retry-After. */
export class NoKeyError extends KeybridgeError {
  constructor(message = "no keybridge key is present; plug the key in and try again", options?: ErrorOptions) {
    super("KEY_ABSENT", message, options);
  }
}

/** Several keys are attached and the command did not say which one it means. */
export class AmbiguousKeyError extends KeybridgeError {
  constructor(serials: readonly string[]) {
    super(
      "KEY_AMBIGUOUS",
      `${serials.length} keybridge keys are attached (${serials.join(", ")}); name one with --serial`,
      { details: { serials } },
    );
  }
}

/** A request field is missing, malformed or out of range; `details.field` names it. Nothing was changed. */
export class InvalidRequestError extends KeybridgeError {
  readonly field: string;

  constructor(field: string, message: string, options?: ErrorOptions) {
    super("VALIDATION", message, { ...options, details: { field, ...options?.details } });
    this.field = field;
  }
}

/** No present key holds a license for the product. */
export class UnknownProductError extends KeybridgeError {
  constructor(product: number, serial?: string) {
    super(
      "UNKNOWN_PRODUCT",
      serial === undefined
        ? `no present key holds a license for product ${product}`
        : `key ${serial} holds no license for product ${product}`,
      { details: { product, ...(serial === undefined ? {} : { serial }) } },
    );
  }
}

/** K1: no seat of the product may be borrowed now (all borrowed, or a Borrow Dummy blocks the product). */
export class NoBorrowableError extends KeybridgeError {
  constructor(serial: string, product: number, options?: ErrorOptions) {
    super(
      "NO_BORROWABLE",
      `No more licenses are available for borrowing: product ${product} on key ${serial} has no borrowable seat ` +
        "(all are borrowed, or a borrow dummy blocks the product until it clears)",
      { ...options, details: { serial, product, ...options?.details } },
    );
  }
}

export class UnknownBorrowError extends KeybridgeError {
  constructor(id: number) {
    super("UNKNOWN_BORROW", `no borrow with id ${id} is recorded`, { details: { id } });
  }
}

export class AlreadyReturnedError extends KeybridgeError {
  constructor(id: number, state: string) {
    super("ALREADY_RETURNED", `borrow ${id} is no longer outstanding (it is ${state})`, { details: { id, state } });
  }
}

/** Settling now would make a Borrow Dummy (K3): the host identity differs from the borrow's binding. */
export class BindingMismatchError extends KeybridgeError {
  constructor(serial: string, id: number) {
    super(
      "BINDING_MISMATCH",
      `this server's identity changed since borrow ${id} on key ${serial} was made; run \`keybridge migrate\` first`,
      { details: { serial, id } },
    );
  }
}

/** K6 guard: a license update would turn outstanding borrows into dummies. */
export class BorrowsOutstandingError extends KeybridgeError {
  constructor(serial: string, ids: number[]) {
    super(
      "BORROWS_OUTSTANDING",
      `key ${serial} has ${ids.length} outstanding borrow(s) (${ids.join(", ")}); a license update now would turn ` +
        "them into borrow dummies. Return them first, or pass --force",
      { details: { serial, borrowIds: ids } },
    );
  }
}

/** What was given as a license update file is not one (magic, version, size, a field out of range). Nothing was sent. */
export class UpdateFileInvalidError extends KeybridgeError {
  constructor(reason: string, options?: ErrorOptions) {
    super("UPDATE_FILE_INVALID", `not a usable license update file: ${reason}`, options);
  }
}

/** The bridge is closing or closed; no new operation is accepted. */
export class BridgeClosedError extends KeybridgeError {
  constructor() {
    super("BRIDGE_CLOSED", "the bridge is closing; no new operation is accepted");
  }
}

/** The operation exists only in virtual mode. */
export class NotVirtualError extends KeybridgeError {
  constructor() {
    super("NOT_VIRTUAL", "this operation is available only in virtual mode");
  }
}

/** Virtual mode could not record which virtual keys are unplugged (disk full, permissions). */
export class VirtualStateUnwritableError extends KeybridgeError {
  constructor(file: string, cause: unknown) {
    super("VIRTUAL_STATE_UNWRITABLE", `could not record the virtual bus state in ${file}: ${String(cause)}`, {
      cause,
      details: { file },
    });
  }
}

/** A file of virtual mode exists but does not read (the demo vendor key); it is never replaced silently. */
export class VirtualStateUnreadableError extends KeybridgeError {
  constructor(file: string, cause: unknown) {
    super(
      "VIRTUAL_STATE_UNREADABLE",
      `cannot read ${file} (${cause instanceof Error ? cause.message : String(cause)}); the virtual keys of this ` +
        "data directory are provisioned with the key it held, so it is not replaced: restore it, or start over " +
        "with a new data directory",
      { cause, details: { file } },
    );
  }
}

/** A key with this serial is absent or unknown. */
export class KeyNotFoundError extends KeybridgeError {
  constructor(serial: string) {
    super("KEY_NOT_FOUND", `no key with serial ${serial} is known`, { details: { serial } });
  }
}

/**
 * The borrow's tag was lost with both the ledger and the registry (its row holds the unknown-tag
 * sentinel): any SETTLE or REBIND would carry a wrong tag and make a Borrow Dummy (K3), so none is sent.
 */
export class TagUnknownError extends KeybridgeError {
  constructor(serial: string, id: number, dummyAt: number | undefined) {
    const when =
      dummyAt === undefined
        ? "at the end of its settle window after expiry"
        : `at ${new Date(dummyAt).toISOString()} (its expiry plus the key's settle window)`;
    super(
      "TAG_UNKNOWN",
      `the tag of borrow ${id} on key ${serial} was lost with the ledger and the registry; returning, settling or ` +
        `migrating it would send a wrong tag and create a borrow dummy, so keybridge refuses. The client keeps the ` +
        `license until it expires; the key turns the borrow into a dummy by itself ${when}. Importing a ledger export ` +
        "or restoring a backup of the data directory brings the tag back",
      { details: { serial, id, ...(dummyAt === undefined ? {} : { dummyAt: new Date(dummyAt).toISOString() }) } },
    );
  }
}

/** A maintenance is planned: no borrow may outlast its start, and none is made while it runs. */
export class MaintenancePlannedError extends KeybridgeError {
  constructor(message: string, details: Record<string, unknown>) {
    super("MAINTENANCE_PLANNED", message, { details });
  }
}

/** The same idempotency key was sent with another request: which fields differ. */
export class IdempotencyKeyReusedError extends KeybridgeError {
  constructor(fields: string[]) {
    super(
      "IDEMPOTENCY_KEY_REUSED",
      `this Idempotency-Key was used for a borrow with a different ${fields.join(", ")}; a retry must send the ` +
        "same request, and a new borrow needs a new key",
      { details: { fields } },
    );
  }
}

/**
 * The data directory cannot be created or written: `details.path` is the directory that refuses
 * (the data directory or the nearest one above it that exists) and `details.reason` the errno.
 */
export class DataDirUnwritableError extends KeybridgeError {
  constructor(message: string, details: { dataDir: string; path: string; reason: string }, cause?: unknown) {
    super("DATA_DIR_UNWRITABLE", message, { cause, details });
  }
}

/** Who holds a data directory: written into its lock file by the holder. */
export interface DataDirHolder {
  pid: number;
  /** ISO time the holder took the lock. */
  since: string;
  /** `daemon` (keybridge serve) or `library` (a program calling openBridge). */
  role: string;
  /** The address the holder serves the API on, when it is a daemon and says so. */
  address?: string;
}

/** Another process (or an open bridge of this one) holds the data directory: one keybridge per directory. */
export class DataDirLockedError extends KeybridgeError {
  /** Undefined when the holder's details could not be read. */
  readonly holder: DataDirHolder | undefined;

  constructor(dataDir: string, holder: DataDirHolder | undefined) {
    super("DATA_DIR_LOCKED", lockedMessage(dataDir, holder), {
      details: { dataDir, ...(holder === undefined ? {} : { holder: { ...holder } }) },
    });
    this.holder = holder;
  }
}

function lockedMessage(dataDir: string, holder: DataDirHolder | undefined): string {
  const rule = "one keybridge per data directory";
  if (holder === undefined) {
    return `the data directory ${dataDir} is in use by another keybridge process (its details could not be read); ${rule}`;
  }
  const who = holder.role === "daemon" ? "a keybridge daemon" : "a program using the keybridge library";
  const where = holder.address === undefined ? "" : `, serving ${holder.address}`;
  const details = `pid ${holder.pid}${where}, since ${holder.since}`;
  if (holder.pid === process.pid) {
    return (
      `the data directory ${dataDir} is already in use in this process by ${who} (${details}); ${rule}: ` +
      "close the one opened earlier first"
    );
  }
  return (
    `the data directory ${dataDir} is in use by ${who} (${details}); ${rule}: ` +
    "stop that one first, or give this one another data directory (--data-dir)"
  );
}

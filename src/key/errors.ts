import { KeybridgeError } from "../errors.js";
import { COMMAND_NAMES, STATUS_NAMES, Status } from "../protocol/constants.js";

/** The key answered a command with a status other than OK. `reason` is the key's own text. */
export class KeyStatusError extends KeybridgeError {
  readonly status: number;
  readonly reason: string;
  readonly command: number;

  constructor(code: string, status: number, command: number, reason: string) {
    const statusName = STATUS_NAMES[status as Status] ?? `0x${status.toString(16)}`;
    const commandName = COMMAND_NAMES[command as keyof typeof COMMAND_NAMES] ?? `0x${command.toString(16)}`;
    super(code, `${commandName} refused by the key: ${statusName}${reason === "" ? "" : ` (${reason})`}`, {
      details: { status, statusName, command, commandName, reason },
    });
    this.status = status;
    this.reason = reason;
    this.command = command;
  }
}

/** K1: no seat may be borrowed now (all borrowed, or a Borrow Dummy blocks the product). */
export class NoBorrowableError extends KeyStatusError {}
/** K3/K7: no borrow record with this id on the key. */
export class UnknownBorrowError extends KeyStatusError {}
/** The key holds no license for this product. */
export class UnknownProductError extends KeyStatusError {}
/** The request was malformed or out of range (e.g. days over the license's borrow period). */
export class KeyBadRequestError extends KeyStatusError {}
/** The key does not implement the command. */
export class UnknownCommandError extends KeyStatusError {}
/** K7: binding or tag did not match, so the borrow stays where it is. */
export class RebindRefusedError extends KeyStatusError {}
/** The borrow is a dummy, not an active record. */
export class NotActiveError extends KeyStatusError {}
/** The key is busy; retry later. */
export class KeyBusyError extends KeyStatusError {}
/** The key has no room for another record. */
export class KeyStorageFullError extends KeyStatusError {}
/** The key cancelled the command (we asked it to). */
export class KeyCancelledError extends KeyStatusError {}
/** The key failed internally (e.g. its flash write failed); the command had no effect. */
export class KeyInternalError extends KeyStatusError {}

/** A signed license update reached a key that has no vendor key yet: provision it first. */
export class NotProvisionedError extends KeyStatusError {}
/** The update (or PROVISION) names another key's serial; nothing changed. */
export class WrongSerialError extends KeyStatusError {}
/** The update's signature does not verify with the vendor key the key was provisioned with; nothing changed. */
export class BadVendorSignatureError extends KeyStatusError {}
/** The update's counter is not above the key's: an old or replayed update (a rollback); nothing changed. */
export class StaleCounterError extends KeyStatusError {}
/** PROVISION of a key already bound to another vendor key; only a wipe on the board undoes it. */
export class AlreadyProvisionedError extends KeyStatusError {}

const STATUS_ERRORS: ReadonlyMap<number, { code: string; type: typeof KeyStatusError }> = new Map([
  [Status.BAD_REQUEST, { code: "KEY_BAD_REQUEST", type: KeyBadRequestError }],
  [Status.UNKNOWN_COMMAND, { code: "KEY_UNKNOWN_COMMAND", type: UnknownCommandError }],
  [Status.NO_BORROWABLE, { code: "KEY_NO_BORROWABLE", type: NoBorrowableError }],
  [Status.UNKNOWN_BORROW, { code: "KEY_UNKNOWN_BORROW", type: UnknownBorrowError }],
  [Status.UNKNOWN_PRODUCT, { code: "KEY_UNKNOWN_PRODUCT", type: UnknownProductError }],
  [Status.REBIND_REFUSED, { code: "KEY_REBIND_REFUSED", type: RebindRefusedError }],
  [Status.NOT_ACTIVE, { code: "KEY_NOT_ACTIVE", type: NotActiveError }],
  [Status.BUSY, { code: "KEY_BUSY", type: KeyBusyError }],
  [Status.STORAGE_FULL, { code: "KEY_STORAGE_FULL", type: KeyStorageFullError }],
  [Status.CANCELLED, { code: "KEY_CANCELLED", type: KeyCancelledError }],
  [Status.INTERNAL, { code: "KEY_INTERNAL", type: KeyInternalError }],
  [Status.NOT_PROVISIONED, { code: "KEY_NOT_PROVISIONED", type: NotProvisionedError }],
  [Status.WRONG_SERIAL, { code: "KEY_WRONG_SERIAL", type: WrongSerialError }],
  [Status.BAD_VENDOR_SIGNATURE, { code: "KEY_BAD_VENDOR_SIGNATURE", type: BadVendorSignatureError }],
  [Status.STALE_COUNTER, { code: "KEY_STALE_COUNTER", type: StaleCounterError }],
  [Status.ALREADY_PROVISIONED, { code: "KEY_ALREADY_PROVISIONED", type: AlreadyProvisionedError }],
]);

/** The typed error for a non-OK status. */
export function statusError(status: number, command: number, reason: string): KeyStatusError {
  const entry = STATUS_ERRORS.get(status);
  if (entry === undefined) return new KeyStatusError("KEY_STATUS_UNKNOWN", status, command, reason);
  return new entry.type(entry.code, status, command, reason);
}

/** K9: a key whose serial is pinned to another public key. keybridge sends it nothing more. */
export class CounterfeitKeyError extends KeybridgeError {
  constructor(serial: string) {
    super(
      "KEY_COUNTERFEIT",
      `the key with serial ${serial} presents a public key other than the one pinned at its first attach; ` +
        "it is refused as counterfeit",
      { details: { serial } },
    );
  }
}

/** The key does not announce the VENDOR_SIGNED capability: it has no signed updates, provisioning or vendor info. */
export class SignedUpdatesUnsupportedError extends KeybridgeError {
  constructor(serial: string, capabilities: number) {
    super(
      "KEY_SIGNED_UPDATES_UNSUPPORTED",
      `key ${serial} does not take vendor-signed license updates (capabilities 0x${capabilities.toString(16)}, ` +
        "bit VENDOR_SIGNED clear); its firmware predates them",
      { details: { serial, capabilities } },
    );
  }
}

/**
 * A bare license set was given for a key that takes only vendor-signed updates, and no signer
 * was configured to sign it: the update has to come as a file signed by the key's vendor.
 */
export class UnsignedLicenseUpdateError extends KeybridgeError {
  constructor(serial: string) {
    super(
      "KEY_UPDATE_NOT_SIGNED",
      `key ${serial} accepts only license updates signed by its vendor; ask the vendor for an update file ` +
        "(`keybridge vendor sign`) and apply that",
      { details: { serial } },
    );
  }
}

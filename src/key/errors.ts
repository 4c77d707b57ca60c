import { KeybridgeError } from "../errors.js";
import { COMMAND_NAMES, STATUS_NAMES, Status } from "../protocol/constants.js";

/**
 * Refusals that mean what a layer above already names: the key saying "no seat", "no such borrow"
 * or "no such product" is the same fact as the bridge finding it in its ledger, so it carries the
 * same code. Every other refusal is `KEY_` and the status's name.
 */
const SHARED_MEANINGS: ReadonlySet<Status> = new Set([
  Status.NO_BORROWABLE,
  Status.UNKNOWN_BORROW,
  Status.UNKNOWN_PRODUCT,
]);

/** The code a refusal with this status carries. */
export function refusalCode(status: number): string {
  const name = STATUS_NAMES[status as Status];
  if (name === undefined || status === Status.OK) return "KEY_STATUS_UNKNOWN";
  return SHARED_MEANINGS.has(status as Status) ? name : `KEY_${name}`;
}

/** Every code a refusal can carry (for the HTTP status table and its test). */
export const REFUSAL_CODES: readonly string[] = [
  ...Object.values(Status)
    .filter((status) => status !== Status.OK)
    .map(refusalCode),
  "KEY_STATUS_UNKNOWN",
];

/**
 * The key answered a command with a status other than OK; nothing changed on the key. One class
 * for every status: `status` says which (compare it with the protocol's `Status`), `code` is
 * derived from it (refusalCode), `reason` is the key's own text.
 *
 * What each status means to a caller: NO_BORROWABLE (K1: no seat now, or a dummy blocks the
 * product), UNKNOWN_BORROW (K3/K7: no record with that id), UNKNOWN_PRODUCT, BAD_REQUEST (malformed
 * or out of range), UNKNOWN_COMMAND, REBIND_REFUSED (K7: binding or tag did not match), NOT_ACTIVE
 * (the borrow is a dummy), BUSY, STORAGE_FULL, CANCELLED, INTERNAL (e.g. a flash write failed);
 * for vendor-signed updates NOT_PROVISIONED, WRONG_SERIAL, BAD_VENDOR_SIGNATURE, STALE_COUNTER (an
 * old or replayed update) and ALREADY_PROVISIONED (another vendor key; only a wipe undoes it).
 */
export class KeyRefusedError extends KeybridgeError {
  readonly status: number;
  /** The protocol's name of the status (NO_BORROWABLE, STALE_COUNTER, ...), or its hex value when unknown. */
  readonly statusName: string;
  readonly reason: string;
  readonly command: number;

  /**
   * `foreseen`: the host judged the command as the key would and did not send it (a signed
   * license update the key would refuse); the message says so, the code is the same.
   */
  constructor(status: number, command: number, reason: string, options: { foreseen?: boolean } = {}) {
    const statusName = STATUS_NAMES[status as Status] ?? `0x${status.toString(16)}`;
    const commandName = COMMAND_NAMES[command as keyof typeof COMMAND_NAMES] ?? `0x${command.toString(16)}`;
    const why = `${statusName}${reason === "" ? "" : ` (${reason})`}`;
    const foreseen = options.foreseen === true;
    super(
      refusalCode(status),
      foreseen
        ? `the key would refuse ${commandName}: ${why}; nothing was sent`
        : `${commandName} refused by the key: ${why}`,
      { details: { status, statusName, command, commandName, reason, ...(foreseen ? { foreseen } : {}) } },
    );
    this.status = status;
    this.statusName = statusName;
    this.reason = reason;
    this.command = command;
  }
}

/** True when `error` is the key's refusal with one of `statuses`. */
export function isKeyRefusal(error: unknown, ...statuses: number[]): error is KeyRefusedError {
  return error instanceof KeyRefusedError && statuses.includes(error.status);
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

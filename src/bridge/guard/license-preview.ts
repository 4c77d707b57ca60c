import { KeybridgeError } from "../../errors.js";
import { KeyRefusedError, SignedUpdatesUnsupportedError } from "../../key/index.js";
import type { BorrowRow } from "../../ledger/index.js";
import {
  AppCommand,
  type BorrowRecord,
  diffLicenseSets,
  judgeLicenseUpdate,
  type License,
  licenseUpdateSignatureValid,
  toHex,
  type VendorInfo,
} from "../../protocol/index.js";
import type { LicenseInput, LicenseUpdatePreviewView } from "../api.js";
import { KeyNotFoundError, NoKeyError } from "../errors.js";
import type { KeySession } from "../key-session.js";
import { borrowViewOfRow } from "../views.js";
import { LicenseUpdateBlockedError } from "./license-blocked.js";
import type { LicenseUpdatePlan } from "./license-input.js";

type Client = NonNullable<KeySession["client"]>;

/** What the preview reads: the key (through its queue), the ledger's outstanding rows, product names. */
export interface LicensePreviewInputs {
  readonly keys: {
    session(serial: string): KeySession | undefined;
    call<T>(session: KeySession, work: (client: Client) => Promise<T>): Promise<T>;
  };
  readonly index: { rows(): Iterable<BorrowRow> };
  productName(product: number): string | undefined;
}

/** The key's vendor state: undefined for a key that takes no signed updates (and has no vendor info). */
export function readVendor(
  keys: LicensePreviewInputs["keys"],
  session: KeySession,
  client: Client,
): Promise<VendorInfo | undefined> {
  return client.takesSignedUpdates ? keys.call(session, (key) => key.vendorInfo()) : Promise.resolve(undefined);
}

/**
 * What the key would refuse this update with, judged here as the key judges it (provisioned,
 * serial, vendor signature, counter): the same typed error the key's answer would become, or
 * undefined when it would apply it. A bare set is refused where this bridge has no signer for it.
 */
export function keyRefusal(
  client: Client,
  vendor: VendorInfo | undefined,
  plan: LicenseUpdatePlan,
): KeybridgeError | undefined {
  if (!plan.signed) {
    try {
      client.checkBareLicenseUpdate();
      return undefined;
    } catch (error) {
      if (error instanceof KeybridgeError) return error;
      throw error;
    }
  }
  if (vendor === undefined) return new SignedUpdatesUnsupportedError(client.serial, client.info.capabilities);
  const refusal = judgeLicenseUpdate(plan.update, {
    serial: client.serial,
    vendorPublicKey: vendor.provisioned ? vendor.vendorPublicKey : undefined,
    updateCounter: vendor.updateCounter,
  });
  return refusal === undefined
    ? undefined
    : new KeyRefusedError(refusal.status, AppCommand.SIGNED_LICENSE_UPDATE, refusal.reason, { foreseen: true });
}

/** The key of `serial`, attached and serving: what a license update needs. */
export function attachedSession(keys: LicensePreviewInputs["keys"], serial: string): KeySession {
  const session = keys.session(serial);
  if (session === undefined) throw new KeyNotFoundError(serial);
  if (!session.present || !session.serving) {
    throw new NoKeyError(`key ${serial} is not attached; plug it in and try again`, { details: { serial } });
  }
  return session;
}

/** The key's borrows a license update would turn into dummies (K6): the ledger's outstanding rows, and active ones only the key lists. */
export function borrowsInTheWay(
  rows: Iterable<BorrowRow>,
  serial: string,
  onKey: readonly BorrowRecord[],
): { outstanding: BorrowRow[]; unrecorded: BorrowRecord[] } {
  const outstanding = [...rows].filter(
    (row) => row.serial === serial && (row.state === "active" || row.state === "returning"),
  );
  const recorded = new Set(outstanding.map((row) => row.id));
  const unrecorded = onKey.filter((record) => record.state === "active" && !recorded.has(record.id));
  return { outstanding, unrecorded };
}

/**
 * What a license update would change on `serial` and how it would end, read from the key now:
 * the license diff, the counters and the signature against the key's vendor, the borrows K6
 * would turn into dummies, and the refusal the key or the guard would answer. Sends nothing that
 * changes the key.
 */
export async function previewLicenseUpdate(
  inputs: LicensePreviewInputs,
  serial: string,
  plan: LicenseUpdatePlan,
  force: boolean,
): Promise<LicenseUpdatePreviewView> {
  const { keys } = inputs;
  const session = attachedSession(keys, serial);
  const client = session.requireClient();
  const vendor = await readVendor(keys, session, client);
  const refusedByKey = keyRefusal(client, vendor, plan);
  const current = await keys.call(session, (key) => key.listLicenses());
  const onKey = await keys.call(session, (key) => key.listAllBorrows());
  const { outstanding, unrecorded } = borrowsInTheWay(inputs.index.rows(), serial, onKey);
  const inTheWay = outstanding.length + unrecorded.length > 0;
  const refusal =
    refusedByKey ?? (inTheWay && !force ? new LicenseUpdateBlockedError(serial, outstanding, unrecorded) : undefined);
  const keyNow = session.keyNow();
  const vendorKey =
    vendor?.provisioned === true && vendor.vendorPublicKey !== undefined ? vendor.vendorPublicKey : undefined;
  return {
    serial,
    signed: plan.signed,
    // A bare set is signed only where it is sent signed: not for a key taking it as it is, nor without a signer.
    counter: plan.signed
      ? plan.update.counter
      : vendor === undefined || client.takesBareLicenseSets() || refusedByKey !== undefined
        ? null
        : vendor.updateCounter + 1,
    keyCounter: vendor === undefined ? null : vendor.updateCounter,
    vendorPublicKey: vendorKey === undefined ? null : toHex(vendorKey),
    // Whether the key's vendor signed it, whatever else (serial, counter) the key would refuse.
    signatureValid: plan.signed && vendorKey !== undefined ? licenseUpdateSignatureValid(plan.update, vendorKey) : null,
    licenseSetVersion: session.info.licenseSetVersion,
    licenses: plan.licenses,
    changes: diffLicenseSets(current, plan.licenses).map((change) => ({
      product: change.product,
      change: change.change,
      ...(change.before === undefined ? {} : { before: license(change.before) }),
      ...(change.after === undefined ? {} : { after: license(change.after) }),
    })),
    dummies: outstanding.map((row) => borrowViewOfRow(row, keyNow, inputs.productName)),
    unrecordedBorrowIds: unrecorded.map((record) => record.id),
    forced: force,
    refusal: refusal === undefined ? null : { code: refusal.code, message: refusal.message },
  };
}

function license({ product, seats, borrowable, borrowDays }: License): LicenseInput {
  return { product, seats, borrowable, borrowDays };
}

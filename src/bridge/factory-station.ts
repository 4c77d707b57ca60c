import { connectKey, type KeyClient, MemoryPinStore } from "../key/index.js";
import { layerLogger } from "../log.js";
import {
  diffLicenseSets,
  type License,
  type LicenseChange,
  type SignedLicenseUpdate,
  type SignedLicenseUpdateResult,
  type VendorInfo,
} from "../protocol/index.js";
import { type HidBackend, listKeys, loadHidBackend, openHidPort, Transport } from "../transport/index.js";
import { AmbiguousKeyError, BorrowsOutstandingError, NoKeyError } from "./errors.js";

const log = layerLogger("bridge");

/** The station refuses a key with borrows out: that key is in service, its server guards its updates. */
export class KeyInServiceError extends BorrowsOutstandingError {
  constructor(serial: string, ids: number[]) {
    super(serial, ids);
    this.message =
      `key ${serial} holds ${ids.length} active borrow(s) (${ids.join(", ")}); an update would turn them into ` +
      "borrow dummies (rule K6). A key in service gets its updates on its license server " +
      "(`keybridge license-update`), which guards them";
  }
}

/**
 * The vendor's side of a key, straight over USB with no daemon: what a factory station does
 * before a key ships (provision it, give it its first licenses). It speaks to the key through the
 * same transport and KeyClient as the daemon; on Linux a key can be open in both at once (each
 * on its own channel), so this also works beside a running daemon.
 */
export interface StationOptions {
  /** The key to use; required when several are attached. */
  readonly serial?: string;
  /** Default: the real node-hid/usb backend. */
  readonly backend?: HidBackend;
  readonly timeoutMs?: number;
}

/** Connects to the one attached key meant (by serial, or the only one), runs `work`, closes it. */
export async function withAttachedKey<T>(options: StationOptions, work: (client: KeyClient) => Promise<T>): Promise<T> {
  const backend = options.backend ?? (await loadHidBackend());
  const attached = await listKeys(backend);
  const candidates =
    options.serial === undefined ? attached : attached.filter((device) => device.serial === options.serial);
  if (candidates.length === 0) {
    const present = attached.map((device) => device.serial).filter((serial) => serial !== "");
    throw new NoKeyError(
      options.serial === undefined
        ? "no keybridge key is attached; plug the key into this computer and try again"
        : `no key with serial ${options.serial} is attached (attached: ${present.join(", ") || "none"})`,
      { details: { serial: options.serial, attached: present } },
    );
  }
  if (candidates.length > 1) throw new AmbiguousKeyError(candidates.map((device) => device.serial));
  const device = candidates[0]!;
  const transport = await Transport.open(
    await openHidPort(backend, device),
    options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
  );
  try {
    // A station trusts the key it is handed: a pin store of its own, for this connection only.
    const client = await connectKey(transport, new MemoryPinStore());
    return await work(client);
  } finally {
    await transport.close();
  }
}

export interface ProvisionOutcome {
  readonly serial: string;
  /** False when the key already held this vendor key (nothing changed). */
  readonly provisioned: boolean;
  readonly vendor: VendorInfo;
}

/** PROVISION of the attached key with the vendor's public key. */
export async function provisionAttachedKey(
  vendorPublicKey: Uint8Array,
  options: StationOptions = {},
): Promise<ProvisionOutcome> {
  return withAttachedKey(options, async (client) => {
    const before = await client.vendorInfo();
    const vendor = await client.provision({ serial: client.serial, vendorPublicKey });
    log.info("provisioned a key with a vendor key", { serial: client.serial, already: before.provisioned });
    return { serial: client.serial, provisioned: !before.provisioned, vendor };
  });
}

export interface ApplyOutcome {
  readonly serial: string;
  readonly changes: LicenseChange[];
  readonly before: License[];
  readonly result: SignedLicenseUpdateResult;
}

/**
 * Applies a signed update to the key it names. A key holding active borrows is refused: K6 would
 * turn them into borrow dummies, and a key in service gets its updates through its license
 * server (`keybridge license-update`), which guards them and records the change.
 */
export async function applyUpdateToAttachedKey(
  update: SignedLicenseUpdate,
  opId: Uint8Array,
  options: Omit<StationOptions, "serial"> = {},
): Promise<ApplyOutcome> {
  return withAttachedKey({ ...options, serial: update.serial }, async (client) => {
    const active = (await client.listAllBorrows()).filter((record) => record.state === "active");
    const activeIds = active.map((record) => record.id);
    if (activeIds.length > 0) throw new KeyInServiceError(client.serial, activeIds);
    const before = (await client.listLicenses()).map(({ product, seats, borrowable, borrowDays }) => ({
      product,
      seats,
      borrowable,
      borrowDays,
    }));
    const result = await client.signedLicenseUpdate({ opId, update });
    log.info("applied a signed license update", { serial: client.serial, counter: result.updateCounter });
    return { serial: client.serial, changes: diffLicenseSets(before, update.licenses), before, result };
  });
}

import type { License } from "../../src/protocol/index.js";
import { toHex } from "../../src/protocol/index.js";
import { DEFAULT_UDC_DIR, type GadgetState, gadgetState } from "./gadget.js";
import { readKey } from "./key-file.js";
import { lockOwner } from "./lock.js";

/** What `keybridge key status` shows: never the key's secret, never a borrow's tag. */
export interface BoardKeyStatus {
  readonly statePath: string;
  readonly serial: string;
  readonly firmwareVersion: string;
  /** The key's identity public key (hex): what license servers pin. */
  readonly publicKey: string;
  readonly provisioned: boolean;
  readonly vendorPublicKey: string | null;
  readonly updateCounter: number;
  readonly licenseSetVersion: number;
  readonly licenses: ReadonlyArray<License & { readonly borrowed: number; readonly dummies: number }>;
  readonly borrows: { readonly active: number; readonly dummies: number };
  readonly keyTime: string;
  /** The pid serving the key, or null. */
  readonly servedBy: number | null;
  readonly gadget: GadgetState;
}

export function keyStatus(statePath: string, gadgetDir: string, udcDir: string = DEFAULT_UDC_DIR): BoardKeyStatus {
  const key = readKey(statePath);
  return {
    statePath,
    serial: key.serial,
    firmwareVersion: key.firmwareVersion,
    publicKey: toHex(key.publicKey),
    provisioned: key.vendorPublicKey !== undefined,
    vendorPublicKey: key.vendorPublicKey === undefined ? null : toHex(key.vendorPublicKey),
    updateCounter: key.updateCounter,
    licenseSetVersion: key.licenseSetVersion,
    licenses: key.licenses.map((license) => ({ ...license })),
    borrows: {
      active: key.borrows.filter((record) => record.state === "active").length,
      dummies: key.borrows.filter((record) => record.state === "dummy").length,
    },
    keyTime: new Date(key.keyTimeMs).toISOString(),
    servedBy: lockOwner(statePath) ?? null,
    gadget: gadgetState(gadgetDir, udcDir),
  };
}

import type { License } from "../src/protocol/index.js";
import { VirtualBus } from "./virtual-bus.js";
import type { VirtualKey } from "./virtual-key.js";

export const DEMO_SERIAL = "KB-DEMO-0001";

/** Demo license set of `keybridge serve --virtual`. */
export const DEMO_LICENSES: readonly License[] = [
  { product: 1001, seats: 10, borrowable: 4, borrowDays: 30 },
  { product: 1002, seats: 5, borrowable: 2, borrowDays: 14 },
  { product: 1003, seats: 20, borrowable: 10, borrowDays: 30 },
];

/** Display names of the demo products (the key itself knows only numbers). */
export const DEMO_PRODUCT_NAMES: Readonly<Record<number, string>> = {
  1001: "CAD Pro",
  1002: "CAD Render",
  1003: "Viewer",
};

export interface DemoKeyOptions {
  /** Bus to plug the key into; a new one by default. */
  readonly bus?: VirtualBus;
  readonly serial?: string;
  /** Keep the key in this file so it survives daemon restarts; in memory by default. */
  readonly stateFile?: string;
  readonly latencyMs?: number;
  /** Provision the key with this vendor public key (raw 32 bytes); unprovisioned without it. */
  readonly vendorPublicKey?: Uint8Array;
}

/** A plugged-in virtual key with the demo licenses. */
export function createDemoKey(options: DemoKeyOptions = {}): { bus: VirtualBus; key: VirtualKey } {
  const bus = options.bus ?? new VirtualBus();
  const key = bus.createKey({
    serial: options.serial ?? DEMO_SERIAL,
    licenses: DEMO_LICENSES,
    ...(options.stateFile === undefined ? {} : { stateFile: options.stateFile }),
    ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
    ...(options.vendorPublicKey === undefined ? {} : { vendorPublicKey: options.vendorPublicKey }),
  });
  return { bus, key };
}

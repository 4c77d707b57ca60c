import {
  createDemoKey,
  createNodeHidStandIn,
  createUsbStandIn,
  type VirtualBus,
  type VirtualKey,
} from "../../../native-mocks/index.js";
import { connectKey, type KeyClient } from "../../../src/key/key-client.js";
import { MemoryPinStore, type PinStore } from "../../../src/key/pin-store.js";
import { type HidBackend, virtualHidBackend } from "../../../src/transport/backend.js";
import { listKeys } from "../../../src/transport/discovery.js";
import { openHidPort } from "../../../src/transport/node-hid-port.js";
import { Transport, type TransportOptions } from "../../../src/transport/transport.js";
import { newTestVendor, type TestVendor } from "../../conformance/vendor.js";

/** The vendor every harness key is provisioned with: signs license updates for it. */
export const HARNESS_VENDOR: TestVendor = newTestVendor();

export interface VirtualSetup {
  readonly bus: VirtualBus;
  readonly key: VirtualKey;
  readonly backend: HidBackend;
  readonly pins: PinStore;
  /** The vendor the key is provisioned with. */
  readonly vendor: TestVendor;
}

/** A demo key (provisioned with HARNESS_VENDOR) on a fresh virtual bus, reached through the node-hid and usb stand-ins. */
export function virtualSetup(options: { latencyMs?: number; serial?: string } = {}): VirtualSetup {
  const { bus, key } = createDemoKey({
    latencyMs: options.latencyMs ?? 0,
    ...(options.serial ? { serial: options.serial } : {}),
    vendorPublicKey: HARNESS_VENDOR.publicKey,
  });
  const backend = virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
  return { bus, key, backend, pins: new MemoryPinStore(), vendor: HARNESS_VENDOR };
}

/** Discovers the key, opens it and connects, exactly as the daemon does with real node-hid. */
export async function connectVirtual(
  setup: VirtualSetup,
  options: TransportOptions = {},
): Promise<{ client: KeyClient; transport: Transport }> {
  const [device] = await listKeys(setup.backend);
  if (device === undefined) throw new Error("no virtual key on the bus");
  const transport = await Transport.open(await openHidPort(setup.backend, device), options);
  const client = await connectKey(
    transport,
    setup.pins,
    options.randomBytes ? { randomBytes: options.randomBytes } : {},
  );
  return { client, transport };
}

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

export interface VirtualSetup {
  readonly bus: VirtualBus;
  readonly key: VirtualKey;
  readonly backend: HidBackend;
  readonly pins: PinStore;
}

/** A demo key on a fresh virtual bus, reached through the node-hid and usb stand-ins. */
export function virtualSetup(options: { latencyMs?: number; serial?: string } = {}): VirtualSetup {
  const { bus, key } = createDemoKey({
    latencyMs: options.latencyMs ?? 0,
    ...(options.serial ? { serial: options.serial } : {}),
  });
  const backend = virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
  return { bus, key, backend, pins: new MemoryPinStore() };
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

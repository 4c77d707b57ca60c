import { join } from "node:path";
import { defaultRegistryKind, openRegistry, type RegistryAdapter } from "../registry/index.js";
import type { BridgeOptions } from "./api.js";
import type { Cleanups } from "./cleanups.js";
import { type Devices, openDevices } from "./devices.js";
import type { EventBus } from "./event-bus.js";
import { HostWatch } from "./host-watch.js";
import type { BridgeInternals } from "./internals.js";
import { LedgerWatch } from "./ledger-watch.js";
import { type OpenedLedger, openOrRebuildLedger } from "./open-ledger.js";

/** What the bridge's services stand on: its stores, its devices and the host it runs on. */
export interface Foundation extends OpenedLedger {
  readonly ledgerWatch: LedgerWatch;
  readonly registry: RegistryAdapter;
  readonly devices: Devices;
  readonly host: HostWatch;
}

/**
 * Opens the ledger (a corrupt one is quarantined and rebuilt), the registry, the devices (real or
 * the virtual world) and the host and clock monitors, each registering its release in `cleanups`.
 */
export async function openFoundation(
  options: BridgeOptions,
  internals: BridgeInternals,
  events: EventBus,
  cleanups: Cleanups,
): Promise<Foundation> {
  const { dataDir } = options;
  const pollMs = options.hostPollMs ?? 5000;
  const { ledger, outstanding, fresh } = await openOrRebuildLedger(dataDir, events, internals.ledgerCheck);
  cleanups.add(() => ledger.close());
  if (internals.ledgerMaxSizeBytes !== undefined) ledger.capSize(internals.ledgerMaxSizeBytes);
  const ledgerWatch = new LedgerWatch(ledger, pollMs);
  cleanups.add(() => ledgerWatch.close());
  const opened = await openRegistry({
    kind: options.registry?.kind ?? defaultRegistryKind(),
    path: options.registry?.path ?? join(dataDir, "registry.ini"),
  });
  const registry = internals.wrapRegistry?.(opened) ?? opened;
  cleanups.add(() => registry.close());
  const virtual = options.mode === "virtual";
  const devices = await openDevices({ dataDir, virtual, virtualLatencyMs: options.virtualLatencyMs ?? 0 });
  const { world } = devices;
  if (world !== undefined) cleanups.add(() => world.close());
  const host = await HostWatch.start(
    devices.probe,
    {
      dataDir,
      pollMs,
      clockCheckMs: options.clockCheckMs ?? 10_000,
      components: options.bindingComponents ?? ["ips", "hostname", "machineId"],
    },
    events,
  );
  cleanups.add(() => host.close());
  return { ledger, outstanding, fresh, ledgerWatch, registry, devices, host };
}

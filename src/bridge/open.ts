import { chmodSync } from "node:fs";
import { join } from "node:path";
import type { Observable } from "rxjs";
import type { CodeMeterWatchOptions } from "../codemeter/index.js";
import type { ClockJumpEvent } from "../host/index.js";
import { layerLogger } from "../log.js";
import { defaultRegistryKind, openRegistry, type RegistryAdapter } from "../registry/index.js";
import type { HidBackend } from "../transport/index.js";
import type { BridgeOptions } from "./api.js";
import { BorrowIndex } from "./borrow-index.js";
import { BorrowLocks } from "./borrow-locks.js";
import { BorrowService } from "./borrow-service.js";
import { BridgeImpl, type OpenedBridge } from "./bridge.js";
import { CodeMeterLink } from "./codemeter-link.js";
import { combinedRisks } from "./combined-risks.js";
import { DataDirLock, prepareDataDir } from "./data-dir.js";
import { openDevices } from "./devices.js";
import { EventBus } from "./event-bus.js";
import { ExpiryService } from "./expiry.js";
import { LicenseGuard, MigrationService, RegistryWatch, RiskEngine } from "./guard/index.js";
import { HostWatch } from "./host-watch.js";
import { InFlight } from "./in-flight.js";
import { DummyRecorder } from "./key-dummies.js";
import { KeyManager } from "./key-manager.js";
import { KeyOrder } from "./key-order.js";
import { LedgerPinStore } from "./ledger-pin-store.js";
import { LedgerWatch } from "./ledger-watch.js";
import { MaintenancePlanner } from "./maintenance.js";
import { Mirror } from "./mirror.js";
import { openOrRebuildLedger } from "./open-ledger.js";
import { ReconcileService } from "./reconcile-service.js";
import { Recovery } from "./recovery.js";
import { riskInputsOf } from "./risk-inputs-of.js";
import { virtualControls } from "./virtual-controls.js";

export type { BridgeTestSeams, OpenedBridge } from "./bridge.js";

const log = layerLogger("bridge");

/** Internal knobs beyond BridgeOptions (tests and the daemon). */
export interface BridgeInternals {
  /** Clock jumps from another source besides the clock monitor (virtual mode cannot step the wall clock). */
  clockJumps$?: Observable<ClockJumpEvent>;
  /** Wraps the registry adapter (tests count writes). */
  wrapRegistry?: (registry: RegistryAdapter) => RegistryAdapter;
  /** How often expired borrows are settled. Default 60 000 ms. */
  expiryCheckMs?: number;
  /** Hotplug debounce. Default 250 ms (50 ms in virtual mode). */
  hotplugDebounceMs?: number;
  /** Wraps the HID backend (tests inject enumeration failures). */
  wrapBackend?: (backend: HidBackend) => HidBackend;
  /** First retry delay after a failed device enumeration. Default 1 000 ms. */
  enumerationRetryMs?: number;
  /** A quick_check of `<dataDir>/ledger.db` started earlier; when it passed, the ledger's open does not run it again. */
  ledgerCheck?: Promise<boolean>;
  /** Do not wait for the mirror's first drift check (the daemon answers while it runs; reads through the mirror wait). */
  driftCheckInBackground?: boolean;
  /** Caps the ledger file's size (tests play a full disk with it). Default: no cap. */
  ledgerMaxSizeBytes?: number;
  /** The data directory's lock, already taken by the caller, who releases it; without it openBridge takes one. */
  dataDirLock?: DataDirLock;
  /** The CodeMeter watch's poll intervals and clock (tests). */
  codeMeterWatch?: CodeMeterWatchOptions;
}

type Cleanup = () => Promise<void> | void;

/**
 * Opens the bridge: data dir (0700) and its lock, ledger (a corrupt one is quarantined and
 * rebuilt), registry, host and clock monitors, keys (each recovered before it serves), the
 * registry mirror, the expiry sweep, the risk engine and (when it runs) the read-only CodeMeter
 * mode. Resolves when all of that runs; `close()`
 * releases all of it, in the reverse order.
 */
export async function openBridge(options: BridgeOptions, internals: BridgeInternals = {}): Promise<OpenedBridge> {
  const dataDir = options.dataDir;
  prepareDataDir(dataDir);
  chmodSync(dataDir, 0o700);
  const given = internals.dataDirLock;
  if (given !== undefined && (!given.held || !given.covers(dataDir))) {
    throw new Error(`the data directory lock passed to openBridge does not hold ${dataDir}`);
  }
  // Before anything is read: a second keybridge on this directory must not recover or repair anything.
  const lock = given ?? DataDirLock.acquire(dataDir, { role: "library" });
  const events = new EventBus();
  // Released last (cleanups run in reverse): nothing of the bridge touches the directory after it.
  const cleanups: Cleanup[] = given === undefined ? [() => lock.release()] : [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.warn("release during close failed", { error: String(error) });
      }
    }
  };
  try {
    return await assemble(options, internals, events, cleanups, cleanUp);
  } catch (error) {
    await cleanUp();
    events.complete();
    throw error;
  }
}

async function assemble(
  options: BridgeOptions,
  internals: BridgeInternals,
  events: EventBus,
  cleanups: Cleanup[],
  cleanUp: () => Promise<void>,
): Promise<OpenedBridge> {
  const { dataDir } = options;
  const virtual = options.mode === "virtual";
  const pollMs = options.hostPollMs ?? 5000;
  const { ledger, outstanding, fresh } = await openOrRebuildLedger(dataDir, events, internals.ledgerCheck);
  cleanups.push(() => ledger.close());
  if (internals.ledgerMaxSizeBytes !== undefined) ledger.capSize(internals.ledgerMaxSizeBytes);
  const ledgerWatch = new LedgerWatch(ledger, pollMs);
  cleanups.push(() => ledgerWatch.close());
  const opened = await openRegistry({
    kind: options.registry?.kind ?? defaultRegistryKind(),
    path: options.registry?.path ?? join(dataDir, "registry.ini"),
  });
  const registry = internals.wrapRegistry?.(opened) ?? opened;
  cleanups.push(() => registry.close());
  const devices = await openDevices({ dataDir, virtual, virtualLatencyMs: options.virtualLatencyMs ?? 0 });
  const { world } = devices;
  if (world !== undefined) cleanups.push(() => world.close());
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
  cleanups.push(() => host.close());
  const binding = () => host.binding();
  const productName = (product: number) => world?.productName(product);

  const index = new BorrowIndex();
  index.load(outstanding);
  const operations = new InFlight();
  const locks = new BorrowLocks();
  const keyOrder = new KeyOrder();
  const maintenance = new MaintenancePlanner({ ledger, events });
  const keys = new KeyManager({
    backend: internals.wrapBackend?.(devices.backend) ?? devices.backend,
    pins: new LedgerPinStore(ledger),
    ledger,
    events,
    exchangeTimeoutMs: options.exchangeTimeoutMs ?? 5000,
    queueLimit: options.queueLimit ?? 64,
    debounceMs: internals.hotplugDebounceMs ?? (virtual ? 50 : 250),
    ...(internals.enumerationRetryMs === undefined ? {} : { enumerationRetryMs: internals.enumerationRetryMs }),
    currentBinding: binding,
    ...(world === undefined ? {} : { licenseSigner: world.licenseSigner }),
  });
  const mirror = new Mirror(registry, index, ledger, events, {
    lagMs: options.mirrorLagMs ?? 1000,
    driftCheckMs: options.driftCheckMs ?? 60_000,
    keepUnrecovered: ledger.rebuilt || fresh,
    keyLifecycle$: keys.lifecycle$,
  });
  const dummies = new DummyRecorder({ ledger, index, mirror, events, locks, productName });
  const recovery = new Recovery({ ledger, index, keys, mirror, events, locks, dummies, binding, freshLedger: fresh });
  cleanups.push(() => recovery.close());
  const borrows = new BorrowService({
    ...{ ledger, index, keys, mirror, events, operations, locks, keyOrder, maintenance, dummies },
    ...{ binding, productName },
  });
  const expiry = new ExpiryService({
    ...{ keys, index, operations, locks, dummies, borrows, binding },
    intervalMs: internals.expiryCheckMs ?? 60_000,
  });
  const reconciler = new ReconcileService({
    ...{ ledger, index, keys, mirror, events, operations, dummies, borrows, binding },
  });

  // Keys first: recovery may need the registry's tags (rebuilt ledger) before drift repair rewrites it.
  cleanups.push(() => keys.close());
  await recovery.duringStart(() => keys.start());
  cleanups.push(() => mirror.close());
  const firstDriftCheck = mirror.start().catch((error: unknown) => {
    log.error("the registry could not be checked; the mirror retries at the next drift check", {
      error: String(error),
    });
  });
  if (internals.driftCheckInBackground !== true) await firstDriftCheck;
  cleanups.push(() => expiry.close());
  expiry.start();
  ledgerWatch.start();

  const registryWatch = new RegistryWatch({ mirror, index, intervalMs: pollMs, lagMs: options.mirrorLagMs ?? 1000 });
  const risks = new RiskEngine(
    riskInputsOf({
      ...{ events, host, index, keys, ledger, ledgerWatch, maintenance },
      registryHealth$: registryWatch.health$,
      ...(internals.clockJumps$ === undefined ? {} : { clockJumps$: internals.clockJumps$ }),
    }),
    { pollMs, ledgerRebuilt: ledger.rebuilt },
  );
  cleanups.push(() => risks.close());
  cleanups.push(() => registryWatch.close());
  risks.start();
  registryWatch.start();
  const codemeter = await CodeMeterLink.open({
    ...{ dataDir, settings: options.codemeter, ledger, events, keys, host, maintenance },
    ...(internals.clockJumps$ === undefined ? {} : { clockJumps$: internals.clockJumps$ }),
    ...(internals.codeMeterWatch === undefined ? {} : { watchOptions: internals.codeMeterWatch }),
  });
  cleanups.push(() => codemeter.close());
  const refreshHost = () => host.refresh();
  const migration = new MigrationService({
    ...{ ledger, index, keys, mirror, events, operations, locks, keyOrder, dummies },
    ...{ binding, refreshHost },
  });
  const licenseGuard = new LicenseGuard({
    ...{ ledger, index, keys, events, operations, keyOrder, dummies, productName },
    observer: risks,
  });
  return new BridgeImpl({
    ...{ options, events, ledger, index, keys, mirror, registry, ledgerWatch, maintenance, operations, borrows },
    ...{ reconciler, migration, licenseGuard, host, productName, codemeter },
    risks: combinedRisks(risks, codemeter),
    recover: (session) => recovery.recoverKey(session),
    virtual: world === undefined ? undefined : virtualControls(world, { keys, host, mirror, expiry }),
    testSeams: {
      ...{ ledger, index, mirror, keys, registry, world, binding, refreshHost },
      sweepExpired: () => expiry.sweep(),
    },
    shutDown: async () => {
      await operations.drain();
      await cleanUp();
      events.complete();
    },
  });
}

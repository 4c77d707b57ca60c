import { chmodSync } from "node:fs";
import { layerLogger } from "../log.js";
import type { BridgeOptions } from "./api.js";
import { BorrowIndex } from "./borrow-index.js";
import { BorrowLocks } from "./borrow-locks.js";
import { BorrowService } from "./borrow-service.js";
import { BridgeImpl, type OpenedBridge } from "./bridge.js";
import { Cleanups } from "./cleanups.js";
import { CodeMeterLink } from "./codemeter-link.js";
import { combinedRisks } from "./combined-risks.js";
import { DataDirLock, prepareDataDir } from "./data-dir.js";
import { EventBus } from "./event-bus.js";
import { ExpiryService } from "./expiry.js";
import { LicenseGuard, MigrationService, RiskEngine } from "./guard/index.js";
import { InFlight } from "./in-flight.js";
import type { BridgeInternals } from "./internals.js";
import { DummyRecorder } from "./key-dummies.js";
import { KeyManager } from "./key-manager.js";
import { KeyOrder } from "./key-order.js";
import { LedgerPinStore } from "./ledger-pin-store.js";
import { MaintenancePlanner } from "./maintenance.js";
import { Mirror } from "./mirror.js";
import { openFoundation } from "./open-foundation.js";
import { ReconcileService } from "./reconcile-service.js";
import { Recovery } from "./recovery.js";
import { riskInputsOf } from "./risk-inputs-of.js";
import { virtualControls } from "./virtual-controls.js";

export type { BridgeTestSeams, OpenedBridge } from "./bridge.js";
export type { BridgeInternals } from "./internals.js";

const log = layerLogger("bridge");

/**
 * Opens the bridge: data dir (0700) and its lock, ledger (a corrupt one is quarantined and
 * rebuilt), registry, host and clock monitors, keys (each recovered before it serves), the
 * registry mirror, the expiry sweep, the risk engine and (when it runs) the read-only CodeMeter
 * mode. Resolves when all of that runs; `close()` releases all of it, in the reverse order.
 */
export async function openBridge(options: BridgeOptions, internals: BridgeInternals = {}): Promise<OpenedBridge> {
  prepareDataDir(options.dataDir);
  chmodSync(options.dataDir, 0o700);
  const cleanups = new Cleanups();
  // Before anything is read: a second keybridge on this directory must not recover or repair anything.
  // A lock taken here is released last: nothing of the bridge touches the directory after it.
  const lock = DataDirLock.heldFor(options.dataDir, internals.dataDirLock);
  if (lock !== internals.dataDirLock) cleanups.add(() => lock.release());
  const events = new EventBus();
  try {
    return await assemble(options, internals, events, cleanups);
  } catch (error) {
    await cleanups.run();
    events.complete();
    throw error;
  }
}

async function assemble(
  options: BridgeOptions,
  internals: BridgeInternals,
  events: EventBus,
  cleanups: Cleanups,
): Promise<OpenedBridge> {
  const foundation = await openFoundation(options, internals, events, cleanups);
  const { ledger, outstanding, fresh, ledgerWatch, registry, devices, host } = foundation;
  const { world } = devices;
  const pollMs = options.hostPollMs ?? 5000;
  const binding = () => host.binding();
  const refreshHost = () => host.refresh();
  const productName = (product: number) => world?.productName(product);

  const index = new BorrowIndex();
  index.load(outstanding);
  const operations = new InFlight();
  const locks = new BorrowLocks();
  const keyOrder = new KeyOrder();
  const maintenance = new MaintenancePlanner({ ledger, events });
  const keys = new KeyManager({
    ...{ ledger, events, currentBinding: binding, pins: new LedgerPinStore(ledger) },
    backend: internals.wrapBackend?.(devices.backend) ?? devices.backend,
    exchangeTimeoutMs: options.exchangeTimeoutMs ?? 5000,
    queueLimit: options.queueLimit ?? 64,
    debounceMs: internals.hotplugDebounceMs ?? (options.mode === "virtual" ? 50 : 250),
    ...(internals.enumerationRetryMs === undefined ? {} : { enumerationRetryMs: internals.enumerationRetryMs }),
    ...(world === undefined ? {} : { licenseSigner: world.licenseSigner }),
  });
  const mirror = new Mirror(registry, index, ledger, events, {
    ...{ lagMs: options.mirrorLagMs ?? 1000, checkMs: pollMs, repairMs: options.driftCheckMs ?? 60_000 },
    ...{ keepUnrecovered: ledger.rebuilt || fresh, keyLifecycle$: keys.lifecycle$ },
  });
  const dummies = new DummyRecorder({ ledger, index, mirror, events, locks, productName });
  const recovery = new Recovery({ ledger, index, keys, mirror, events, locks, dummies, binding, freshLedger: fresh });
  cleanups.add(() => recovery.close());
  const borrows = new BorrowService({
    ...{ ledger, index, keys, mirror, events, operations, locks, keyOrder, maintenance, dummies, binding, productName },
  });
  const expiry = new ExpiryService({
    ...{ keys, index, operations, locks, dummies, borrows, binding },
    intervalMs: internals.expiryCheckMs ?? 60_000,
  });
  const reconciler = new ReconcileService({
    ...{ ledger, index, keys, mirror, events, operations, dummies, borrows, binding },
  });

  // Keys first: recovery may need the registry's tags (rebuilt ledger) before drift repair rewrites it.
  cleanups.add(() => keys.close());
  await recovery.duringStart(() => keys.start());
  cleanups.add(() => mirror.close());
  const firstDriftCheck = mirror.start().catch((error: unknown) => {
    log.error("the registry could not be checked; the mirror retries later", { error: String(error) });
  });
  if (internals.driftCheckInBackground !== true) await firstDriftCheck;
  cleanups.add(() => expiry.close());
  expiry.start();
  ledgerWatch.start();

  const risks = new RiskEngine(
    riskInputsOf({
      ...{ events, host, index, keys, ledger, ledgerWatch, maintenance, registryHealth$: mirror.health$ },
      clockJumps$: internals.clockJumps$,
    }),
    { pollMs, ledgerRebuilt: ledger.rebuilt },
  );
  cleanups.add(() => risks.close());
  risks.start();
  const codemeter = await CodeMeterLink.open({
    ...{ dataDir: options.dataDir, settings: options.codemeter, ledger, events, keys, host, maintenance },
    ...{ clockJumps$: internals.clockJumps$, watchOptions: internals.codeMeterWatch },
  });
  cleanups.add(() => codemeter.close());
  const migration = new MigrationService({
    ...{ ledger, index, keys, mirror, events, operations, locks, keyOrder, dummies, binding, refreshHost },
  });
  const licenseGuard = new LicenseGuard({
    ...{ ledger, index, keys, events, operations, keyOrder, dummies, productName, observer: risks },
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
    shutDown: () => operations.drain().then(() => cleanups.run().then(() => events.complete())),
  });
}

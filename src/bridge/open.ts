import { EventEmitter } from "node:events";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Observable, Subscription } from "rxjs";
import { isCodedError } from "../errors.js";
import {
  bindingHex,
  CLOCK_STATE_FILE,
  ClockMonitor,
  computeBinding,
  FileLastSeenStore,
  HostMonitor,
  type HostProbe,
  SystemHostProbe,
} from "../host/index.js";
import {
  type BorrowRow,
  DEFAULT_FILE_NAME,
  type Ledger,
  LedgerCorruptError,
  openLedger,
  quarantineAndCreate,
} from "../ledger/index.js";
import { layerLogger } from "../log.js";
import type { PreflightAction } from "../reconcile/index.js";
import { defaultRegistryKind, openRegistry, type RegistryAdapter } from "../registry/index.js";
import { type HidBackend, HidBackendUnavailable, loadHidBackend } from "../transport/index.js";
import { borrowKey } from "../vocabulary/index.js";
import type {
  AuditEntryView,
  AuditQueryInput,
  BorrowRequestInput,
  BorrowStateView,
  BorrowView,
  Bridge,
  BridgeEvent,
  BridgeOptions,
  DummyView,
  EventHistoryView,
  KeyExchangeView,
  KeyView,
  LedgerExportView,
  LicenseInput,
  LicenseUpdateView,
  MaintenanceInput,
  MaintenanceView,
  MigrationView,
  PreflightView,
  ReconcileView,
  RepairResultView,
  ReturnResultView,
  RiskView,
  StatusView,
  VirtualControls,
} from "./api.js";
import { listAuditEntries } from "./audit-view.js";
import { BorrowIndex } from "./borrow-index.js";
import { BorrowLocks } from "./borrow-locks.js";
import { BorrowService } from "./borrow-service.js";
import type { BridgeContext } from "./context.js";
import { DataDirLock, prepareDataDir } from "./data-dir.js";
import { InvalidRequestError, NotVirtualError } from "./errors.js";
import { EventBus } from "./event-bus.js";
import { ExpiryService } from "./expiry.js";
import { BridgeRiskEngine, GuardServices } from "./guard/index.js";
import { InFlight } from "./in-flight.js";
import { KeyManager } from "./key-manager.js";
import { KeyOrder } from "./key-order.js";
import type { KeySession } from "./key-session.js";
import { LedgerPinStore } from "./ledger-pin-store.js";
import { LedgerWatch, ledgerProblemText } from "./ledger-watch.js";
import { MaintenancePlanner } from "./maintenance.js";
import { Mirror } from "./mirror.js";
import { ReconcileService } from "./reconcile-service.js";
import { Recovery } from "./recovery.js";
import { NoRisks, type RiskSource } from "./risk-source.js";
import { borrowViewOf, keyViewOf, stickViewOf } from "./views.js";
import type { VirtualWorld } from "./virtual-world.js";

const log = layerLogger("bridge");

/** Internal knobs beyond BridgeOptions (tests and the guard layer). */
export interface BridgeInternals {
  /** Replaces the default risk source (the guard's engine). */
  risks?: (bridge: OpenedBridge) => RiskSource;
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
  /**
   * A quick_check of `<dataDir>/ledger.db` started earlier (`startLedgerCheck`); when it passed, the
   * ledger's open does not run it again. The daemon starts it before loading its modules.
   */
  ledgerCheck?: Promise<boolean>;
  /**
   * Do not wait for the registry mirror's first drift check (it starts all the same): the daemon
   * answers while it runs. Reads through the mirror (reconcile, preflight, recovery) wait for it.
   */
  driftCheckInBackground?: boolean;
  /** Caps the ledger file's size (tests play a full disk with it). Default: no cap. */
  ledgerMaxSizeBytes?: number;
  /**
   * The data directory's lock, already taken by the caller (the daemon takes it before anything
   * else); the caller releases it. Without it, openBridge takes the lock and close() releases it.
   */
  dataDirLock?: DataDirLock;
}

/** The parts of an open bridge other layers (the guard) compose with. */
export interface OpenedBridge extends Bridge {
  readonly context: BridgeContext;
  readonly hostMonitor: HostMonitor;
  readonly clockMonitor: ClockMonitor;
  readonly registry: RegistryAdapter;
  readonly world: VirtualWorld | undefined;
  /** The ledger's health check (file still the one open, writes succeeding). */
  readonly ledgerWatch: LedgerWatch;
  /** Settles due borrows now; resolves how many. */
  sweepExpired(): Promise<number>;
}

const emptyBackend = (): HidBackend => ({
  kind: "real",
  hid: {
    devicesAsync: async () => [],
    HIDAsync: {
      open: async () => {
        throw new HidBackendUnavailable();
      },
    },
  },
  usb: { usb: new EventEmitter(), getDeviceList: () => [] },
});

interface OpenedLedger {
  ledger: Ledger;
  /** Verified outstanding rows, read once here so a row failing its checksum quarantines the ledger too. */
  outstanding: BorrowRow[];
  /**
   * The ledger file was missing at start while the key may hold borrows made under the lost one:
   * recovery adopts them instead of rolling them back (which would make Borrow Dummies).
   */
  fresh: boolean;
}

async function openOrRebuildLedger(
  dataDir: string,
  events: EventBus,
  check: Promise<boolean> | undefined,
): Promise<OpenedLedger> {
  const existed = existsSync(join(dataDir, DEFAULT_FILE_NAME));
  const quickCheckPassed = check === undefined ? false : await check;
  try {
    const ledger = openLedger({ dir: dataDir, quickCheckPassed });
    try {
      return { ledger, outstanding: ledger.listOutstanding(), fresh: !existed };
    } catch (error) {
      ledger.close();
      throw error;
    }
  } catch (error) {
    if (!(error instanceof LedgerCorruptError)) throw error;
    log.error("the ledger is corrupt; quarantining it and rebuilding from the key and the registry", {
      error: error.message,
    });
    const ledger = quarantineAndCreate({ dir: dataDir, reason: error.message });
    events.emit("ledger.rebuilt", `the ledger was corrupt (${error.message}); quarantined and rebuilt`, {
      details: { file: ledger.file },
    });
    return { ledger, outstanding: ledger.listOutstanding(), fresh: false };
  }
}

/**
 * Opens the bridge: data dir (0700), ledger (a corrupt one is quarantined and rebuilt), registry,
 * host and clock monitors, keys (each recovered before it serves), the registry mirror and the
 * expiry sweep. `ready()` resolves when all of that runs; `close()` releases all of it.
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
  const cleanups: (() => Promise<void> | void)[] = given === undefined ? [() => lock.release()] : [];
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
  cleanups: (() => Promise<void> | void)[],
  cleanUp: () => Promise<void>,
): Promise<OpenedBridge> {
  const dataDir = options.dataDir;
  const virtual = options.mode === "virtual";
  const { ledger, outstanding, fresh } = await openOrRebuildLedger(dataDir, events, internals.ledgerCheck);
  cleanups.push(() => ledger.close());
  if (internals.ledgerMaxSizeBytes !== undefined) ledger.capSize(internals.ledgerMaxSizeBytes);
  const ledgerWatch = new LedgerWatch(ledger, options.hostPollMs ?? 5000);
  cleanups.push(() => ledgerWatch.close());

  const registryKind = options.registry?.kind ?? defaultRegistryKind();
  let registry = await openRegistry({
    kind: registryKind,
    path: options.registry?.path ?? join(dataDir, "registry.ini"),
  });
  if (internals.wrapRegistry !== undefined) registry = internals.wrapRegistry(registry);
  const openedRegistry = registry;
  cleanups.push(() => openedRegistry.close());

  let world: VirtualWorld | undefined;
  let probe: HostProbe;
  let backend: HidBackend;
  if (virtual) {
    // Loaded only in virtual mode: a real-mode daemon never loads the virtual bus and firmware.
    const { VirtualWorld } = await import("./virtual-world.js");
    world = await VirtualWorld.open(dataDir, options.virtualLatencyMs ?? 0);
    const opened = world;
    cleanups.push(() => opened.close());
    probe = world.host;
    backend = world.backend;
  } else {
    probe = new SystemHostProbe();
    backend = await loadHidBackend().catch((error: unknown) => {
      log.error("USB HID is unavailable; running without keys", { error: String(error) });
      return emptyBackend();
    });
  }

  if (internals.wrapBackend !== undefined) backend = internals.wrapBackend(backend);

  const components = options.bindingComponents ?? ["ips", "hostname", "machineId"];
  const hostMonitor = new HostMonitor(probe, { intervalMs: options.hostPollMs ?? 5000, bindingComponents: components });
  cleanups.push(() => hostMonitor.close());
  const identity = await hostMonitor.start();
  let binding = bindingHex(computeBinding(identity, components));
  const subscriptions: Subscription[] = [];
  cleanups.push(() => {
    for (const subscription of subscriptions) subscription.unsubscribe();
  });
  subscriptions.push(
    hostMonitor.identity$.subscribe((next) => {
      binding = bindingHex(computeBinding(next, components));
    }),
    hostMonitor.changes$.subscribe((change) => {
      events.emit(
        "host.changed",
        `host identity changed: ${change.changes.map((c) => c.component).join(", ")}` +
          (change.bindingChanged ? " (outstanding borrows no longer match this host)" : ""),
        { details: { changes: change.changes, bindingChanged: change.bindingChanged } },
      );
    }),
  );
  const clockMonitor = new ClockMonitor(new FileLastSeenStore(join(dataDir, CLOCK_STATE_FILE)), {
    intervalMs: options.clockCheckMs ?? 10_000,
  });
  cleanups.push(() => clockMonitor.close());
  subscriptions.push(
    clockMonitor.jumps$.subscribe((jump) => {
      events.emit("clock.jump", `the wall clock jumped ${jump.direction} by ${Math.round(jump.jumpMs / 1000)} s`, {
        details: { ...jump, at: jump.at.toISOString() },
      });
    }),
  );
  await clockMonitor.start().catch((error: unknown) => {
    log.error("clock monitor could not start", { error: String(error) });
  });

  const index = new BorrowIndex();
  index.load(outstanding);
  const inFlight = new InFlight();
  const recovered = new Set<string>();
  const mirror = new Mirror(registry, index, ledger, events, {
    lagMs: options.mirrorLagMs ?? 1000,
    driftCheckMs: options.driftCheckMs ?? 60_000,
    keepExtra: (serial) => (ledger.rebuilt || fresh) && !recovered.has(serial),
  });
  const productName = (product: number) => world?.productName(product);
  let recovery: Recovery | undefined;
  const keys = new KeyManager({
    backend,
    pins: new LedgerPinStore(ledger),
    ledger,
    events,
    exchangeTimeoutMs: options.exchangeTimeoutMs ?? 5000,
    queueLimit: options.queueLimit ?? 64,
    debounceMs: internals.hotplugDebounceMs ?? (virtual ? 50 : 250),
    ...(internals.enumerationRetryMs === undefined ? {} : { enumerationRetryMs: internals.enumerationRetryMs }),
    currentBinding: () => binding,
    ...(world === undefined ? {} : { licenseSigner: world.licenseSigner }),
    beforeServe: async (session) => {
      await recovery?.recoverKey(session);
      recovered.add(session.serial);
    },
  });
  const context: BridgeContext = {
    ledger,
    index,
    keys,
    mirror,
    events,
    inFlight,
    locks: new BorrowLocks(),
    keyOrder: new KeyOrder(),
    maintenance: new MaintenancePlanner({ ledger, events }),
    binding: () => binding,
    productName,
  };
  recovery = new Recovery(
    context,
    async () => {
      const { entries } = await mirror.read();
      return new Map(entries.map((entry) => [borrowKey(entry.borrow.serial, entry.borrow.id), entry]));
    },
    fresh,
  );
  const borrowService = new BorrowService(context);
  const expiry = new ExpiryService(context, borrowService, internals.expiryCheckMs ?? 60_000);
  const reconcileService = new ReconcileService(context, borrowService);

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

  const bridge = new BridgeImpl(
    options,
    context,
    borrowService,
    reconcileService,
    expiry,
    hostMonitor,
    clockMonitor,
    registry,
    world,
    ledgerWatch,
    async () => {
      await inFlight.drain();
      await cleanUp();
      events.complete();
    },
    (session) => (recovery as Recovery).recoverKey(session),
  );
  const risks =
    internals.risks?.(bridge) ??
    new BridgeRiskEngine(bridge, { pollMs: options.hostPollMs, mirrorLagMs: options.mirrorLagMs });
  bridge.attachRisks(risks);
  cleanups.push(() => risks.close?.());
  return bridge;
}

class BridgeImpl implements OpenedBridge {
  readonly mode: "real" | "virtual";
  readonly events$: Observable<BridgeEvent>;
  readonly keyExchanges$: Observable<KeyExchangeView>;
  readonly virtual: VirtualControls | undefined;
  private riskSource: RiskSource = new NoRisks();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: BridgeOptions,
    readonly context: BridgeContext,
    private readonly borrowService: BorrowService,
    private readonly reconcileService: ReconcileService,
    private readonly expiry: ExpiryService,
    readonly hostMonitor: HostMonitor,
    readonly clockMonitor: ClockMonitor,
    readonly registry: RegistryAdapter,
    readonly world: VirtualWorld | undefined,
    readonly ledgerWatch: LedgerWatch,
    private readonly shutDown: () => Promise<void>,
    private readonly recover: (session: KeySession) => Promise<unknown>,
  ) {
    this.mode = options.mode;
    this.events$ = context.events.events$;
    this.keyExchanges$ = context.keys.exchanges$;
    this.virtual = world === undefined ? undefined : this.virtualControls(world);
  }

  attachRisks(source: RiskSource): void {
    this.riskSource = source;
  }

  private guardServices: GuardServices | undefined;
  /** Migration, the license-update guard and preflight (src/bridge/guard), built on first use. */
  private get guard(): GuardServices {
    this.guardServices ??= new GuardServices(this, (a) => this.reconcileService.preflight(a), this.riskSource);
    return this.guardServices;
  }

  get risks$(): Observable<RiskView[]> {
    return this.riskSource.risks$;
  }

  risks(): RiskView[] {
    return this.riskSource.risks();
  }

  async maintenance(): Promise<MaintenanceView> {
    return this.context.maintenance.view(this.borrowViews());
  }

  async planMaintenance(input: MaintenanceInput): Promise<MaintenanceView> {
    await this.context.maintenance.set(input);
    return this.maintenance();
  }

  async cancelMaintenance(): Promise<MaintenanceView> {
    const cancelled = await this.context.maintenance.cancel();
    return { ...(await this.maintenance()), cancelled };
  }

  async audit(query: AuditQueryInput = {}): Promise<AuditEntryView[]> {
    return listAuditEntries(this.context.ledger, query);
  }

  recentEvents(options: { after?: number; limit?: number } = {}): EventHistoryView {
    return this.context.events.history(options);
  }

  async ready(): Promise<void> {
    // openBridge resolves only once everything runs; kept for callers that hold the bridge early.
  }

  async status(): Promise<StatusView> {
    const all = this.borrowViews();
    const description = this.registry.describe();
    const problem = this.ledgerWatch.problem();
    return {
      mode: this.mode,
      keys: await this.keys(),
      borrows: all.filter((borrow) => borrow.state !== "dummy"),
      dummies: this.dummyViews(),
      risks: this.risks(),
      ledger: {
        path: this.context.ledger.file,
        healthy: this.context.ledger.healthy,
        rebuilt: this.context.ledger.rebuilt,
        lastExportAt: isoOrNull(this.context.ledger.getMeta("last_export_at")),
        ...(problem === undefined ? {} : { problem: ledgerProblemText(problem) }),
      },
      maintenance: this.context.maintenance.current(),
      registry: {
        kind: description.kind,
        location: description.location,
        lagMs: this.options.mirrorLagMs ?? 1000,
        healthy: this.context.mirror.healthy,
        lastDriftCheck:
          this.context.mirror.lastDriftCheckAt === undefined
            ? null
            : new Date(this.context.mirror.lastDriftCheckAt).toISOString(),
        refused: this.context.mirror.refused(),
      },
    };
  }

  async keys(): Promise<KeyView[]> {
    const { keys, productName } = this.context;
    const views = keys.allSessions().map((session) => keyViewOf(session, productName));
    for (const serial of keys.absentKnownSerials()) {
      views.push({ serial, present: false, kind: "keybridge", licenses: [] });
    }
    views.push(...keys.codeMeterSticks().map(stickViewOf));
    return views;
  }

  async borrows(filter: { serial?: string; state?: BorrowStateView } = {}): Promise<BorrowView[]> {
    return this.borrowViews().filter(
      (view) =>
        (filter.serial === undefined || view.serial === filter.serial) &&
        (filter.state === undefined || view.state === filter.state),
    );
  }

  async getBorrow(id: number, options: { serial?: string } = {}): Promise<BorrowView> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidRequestError("id", "id must be a positive integer");
    const row = this.borrowService.findOutstanding(id, options.serial);
    const view = this.borrowViews().find((candidate) => candidate.serial === row.serial && candidate.id === row.id);
    if (view === undefined) throw new Error(`borrow ${id} vanished from the index`);
    return view;
  }

  borrow(
    request: BorrowRequestInput,
    options: { signal?: AbortSignal; idempotencyKey?: string } = {},
  ): Promise<BorrowView> {
    return this.borrowService.borrow(request, options.signal, options.idempotencyKey);
  }

  returnBorrow(id: number, options: { signal?: AbortSignal; serial?: string } = {}): Promise<ReturnResultView> {
    return this.borrowService.returnBorrow(id, options.signal, options.serial);
  }

  reconcile(): Promise<ReconcileView> {
    return this.reconcileService.reconcile();
  }

  repair(): Promise<RepairResultView> {
    return this.context.inFlight.run(() => this.reconcileService.repair());
  }

  preflight(action: PreflightAction): Promise<PreflightView> {
    return this.guard.preflight(action);
  }

  migrate(): Promise<MigrationView> {
    return this.guard.migrate();
  }

  licenseUpdate(
    serial: string,
    licenses: LicenseInput[],
    options: { force?: boolean } = {},
  ): Promise<LicenseUpdateView> {
    return this.guard.licenseUpdate(serial, licenses, options);
  }

  async exportLedger(file: string): Promise<LedgerExportView> {
    const body = this.context.ledger.export(file);
    return { file, borrows: body.borrows.length, keys: body.keys.length };
  }

  async importLedger(file: string, options: { force?: boolean } = {}): Promise<LedgerExportView> {
    return this.context.inFlight.run(async () => {
      const summary = this.context.ledger.import(file, { force: options.force === true });
      await this.afterImport();
      return { file, borrows: summary.borrows, keys: summary.keys };
    });
  }

  async exportLedgerText(): Promise<{ text: string; summary: LedgerExportView }> {
    const file = join(this.options.dataDir, `.export-${process.pid}-${Date.now()}.json`);
    try {
      const summary = await this.exportLedger(file);
      return { text: readFileSync(file, "utf8"), summary };
    } finally {
      rmSync(file, { force: true });
    }
  }

  async importLedgerText(text: string, options: { force?: boolean } = {}): Promise<LedgerExportView> {
    const file = join(this.options.dataDir, `.import-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, text, { mode: 0o600 });
    try {
      return await this.importLedger(file, options);
    } finally {
      rmSync(file, { force: true });
    }
  }

  sweepExpired(): Promise<number> {
    return this.expiry.sweep();
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async afterImport(): Promise<void> {
    const { index, ledger, mirror, keys } = this.context;
    index.load(ledger.listOutstanding());
    await mirror.checkDrift();
    // The imported rows are checked against each key now, as on attach.
    for (const session of keys.servingSessions()) await this.recover(session);
  }

  private keyNowBySerial(): Map<string, number> {
    const now = Date.now();
    const times = new Map<string, number>();
    for (const session of this.context.keys.allSessions()) times.set(session.serial, session.keyNow(now));
    return times;
  }

  private borrowViews(): BorrowView[] {
    const times = this.keyNowBySerial();
    const now = Date.now();
    const views: BorrowView[] = [];
    for (const entry of this.context.index.all()) {
      views.push(borrowViewOf(entry, times.get(entry.row.serial) ?? now, this.context.productName));
    }
    return views;
  }

  private dummyViews(): DummyView[] {
    const times = this.keyNowBySerial();
    const now = Date.now();
    const dummies: DummyView[] = [];
    for (const { row, dummyUntilIso } of this.context.index.all()) {
      if (row.state !== "dummy") continue;
      const keyNow = times.get(row.serial) ?? now;
      dummies.push({
        serial: row.serial,
        product: row.product,
        borrowId: row.id,
        dummyUntil: dummyUntilIso ?? null,
        blocksProduct: row.dummyUntil === null || row.dummyUntil > keyNow,
      });
    }
    return dummies;
  }

  private virtualControls(world: VirtualWorld): VirtualControls {
    const { keys } = this.context;
    const probe = world.host;
    return {
      keys: async () => world.keyViews(),
      create: async (input) => {
        const view = world.create(input);
        await keys.rescan();
        return view;
      },
      plug: async (serial) => {
        world.plug(serial);
        await keys.rescan();
        return world.keyViews().find((view) => view.serial === serial) ?? world.keyViews()[0]!;
      },
      unplug: async (serial) => {
        world.unplug(serial);
        await keys.rescan();
        return world.keyViews().find((view) => view.serial === serial) ?? world.keyViews()[0]!;
      },
      advanceClock: async (ms) => {
        world.advanceClocks(ms);
        for (const session of keys.servingSessions()) {
          const time = await keys.call(session, (client) => client.getTime());
          session.setKeyTime(time.keyTimeMs);
          // The key may have made or cleared dummies by itself (K4/K5) at the new time.
          await session.refreshLicenses().catch((error: unknown) => {
            log.warn("listing the key's licenses after a clock advance failed; seat counts stay as last known", {
              serial: session.serial,
              code: isCodedError(error) ? error.code : undefined,
              error: String(error),
            });
          });
        }
        await this.expiry.sweep();
        const first = world.bus.keys()[0];
        return { keyTime: new Date(first === undefined ? Date.now() : first.keyTime).toISOString() };
      },
      setHost: async (input) => {
        if (input.ip !== undefined) await probe.setIp(input.ip);
        if (input.hostname !== undefined) await probe.setHostname(input.hostname);
        if (input.machineId !== undefined) await probe.setMachineId(input.machineId);
        await this.hostMonitor.check();
        const identity = probe.snapshot();
        return { ips: identity.ips, hostname: identity.hostname, machineId: identity.machineId };
      },
      wipeRegistry: async () => {
        await this.context.mirror.wipe();
      },
    };
  }
}

export { NotVirtualError };

/** A stored epoch-ms meta value as an ISO time; null when never set. */
function isoOrNull(epochMs: string | undefined): string | null {
  return epochMs === undefined ? null : new Date(Number(epochMs)).toISOString();
}

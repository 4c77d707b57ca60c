import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Observable } from "rxjs";
import type { Ledger } from "../ledger/index.js";
import type { PreflightAction } from "../reconcile/index.js";
import type { RegistryAdapter } from "../registry/index.js";
import type {
  AuditEntryView,
  AuditQueryInput,
  BorrowRequestInput,
  BorrowStateView,
  BorrowView,
  Bridge,
  BridgeEvent,
  BridgeOptions,
  CodeMeterView,
  DummyView,
  EventHistoryView,
  KeyExchangeView,
  KeyView,
  LedgerExportView,
  LicenseUpdateInput,
  LicenseUpdatePreviewView,
  LicenseUpdateView,
  ListedBorrowView,
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
import type { BorrowIndex } from "./borrow-index.js";
import type { BorrowService } from "./borrow-service.js";
import type { CodeMeterLink } from "./codemeter-link.js";
import { codeMeterMaintenanceView, joinPreflight } from "./codemeter-preflight.js";
import { codeMeterBorrowMatches, codeMeterStatus } from "./codemeter-views.js";
import { InvalidRequestError } from "./errors.js";
import type { EventBus } from "./event-bus.js";
import type { LicenseGuard } from "./guard/license-guard.js";
import type { MigrationService } from "./guard/migrate.js";
import { guardedPreflight } from "./guard/preflight.js";
import type { HostWatch } from "./host-watch.js";
import type { InFlight } from "./in-flight.js";
import type { KeyManager } from "./key-manager.js";
import type { KeySession } from "./key-session.js";
import { type LedgerWatch, ledgerProblemText } from "./ledger-watch.js";
import type { MaintenancePlanner } from "./maintenance.js";
import type { Mirror } from "./mirror.js";
import type { ReconcileService } from "./reconcile-service.js";
import type { RiskSource } from "./risk-source.js";
import { borrowViewOf, keyViewOf, type ProductNames, stickViewOf } from "./views.js";
import type { VirtualWorld } from "./virtual-world.js";

/**
 * What tests reach beyond the Bridge interface, in one named place: the stores, for fault
 * injection (fill the ledger, corrupt a row, journal a half-done operation) and for what only they
 * show (a closed row's state, the registry as written, a key's seat counts); the virtual world, to
 * act behind the bridge's back (unplug a key, move one key's clock); the host monitor, to probe at
 * once; the expiry sweep, to run it now. The library's `openBridge` (src/index.ts) returns the
 * public `Bridge`, so none of this is in its types.
 */
export interface BridgeTestSeams {
  readonly ledger: Ledger;
  readonly index: BorrowIndex;
  readonly mirror: Mirror;
  readonly keys: KeyManager;
  readonly registry: RegistryAdapter;
  readonly world: VirtualWorld | undefined;
  /** Probes the host identity now. */
  refreshHost(): Promise<void>;
  /** The current host binding, lower-case hex. */
  binding(): string;
  /** Settles due borrows now; resolves how many. */
  sweepExpired(): Promise<number>;
}

/** The bridge as `openBridge` returns it inside the project: the public Bridge and its test seams. */
export interface OpenedBridge extends Bridge {
  readonly testSeams: BridgeTestSeams;
}

/** What the bridge's operations are made of; `openBridge` builds each part. */
export interface BridgeParts {
  readonly options: BridgeOptions;
  readonly events: Pick<EventBus, "events$" | "history">;
  readonly ledger: Pick<
    Ledger,
    "export" | "file" | "getMeta" | "healthy" | "import" | "listAudit" | "listOutstanding" | "rebuilt"
  >;
  readonly index: Pick<BorrowIndex, "all" | "load">;
  readonly keys: Pick<
    KeyManager,
    "absentKnownSerials" | "allSessions" | "codeMeterSticks" | "exchanges$" | "servingSessions"
  >;
  readonly mirror: Pick<Mirror, "checkDrift" | "healthy" | "lastDriftCheckAt" | "refused">;
  readonly registry: Pick<RegistryAdapter, "describe">;
  readonly ledgerWatch: Pick<LedgerWatch, "problem">;
  readonly maintenance: Pick<MaintenancePlanner, "cancel" | "current" | "set" | "view">;
  readonly operations: Pick<InFlight, "run">;
  readonly borrows: Pick<BorrowService, "borrow" | "findOutstanding" | "returnBorrow">;
  readonly reconciler: Pick<ReconcileService, "preflight" | "reconcile" | "repair">;
  readonly migration: Pick<MigrationService, "migrate">;
  readonly licenseGuard: Pick<LicenseGuard, "update" | "preview">;
  readonly host: Pick<HostWatch, "refresh">;
  readonly risks: RiskSource;
  /** The read-only CodeMeter mode (its picture, preflight and maintenance advice). */
  readonly codemeter: Pick<CodeMeterLink, "view" | "preflight" | "maintenanceAdvice">;
  /** Brings a serving key and the ledger into agreement (after an import). */
  recover(session: KeySession): Promise<unknown>;
  readonly virtual: VirtualControls | undefined;
  readonly productName: ProductNames;
  readonly testSeams: BridgeTestSeams;
  /** Stops accepting operations, waits for the running ones and releases everything. */
  shutDown(): Promise<void>;
}

/** The Bridge's operations over the parts `openBridge` wired. */
export class BridgeImpl implements OpenedBridge {
  readonly mode: "real" | "virtual";
  readonly events$: Observable<BridgeEvent>;
  readonly keyExchanges$: Observable<KeyExchangeView>;
  readonly virtual: VirtualControls | undefined;
  readonly testSeams: BridgeTestSeams;
  private closing: Promise<void> | undefined;

  constructor(private readonly parts: BridgeParts) {
    this.mode = parts.options.mode;
    this.events$ = parts.events.events$;
    this.keyExchanges$ = parts.keys.exchanges$;
    this.virtual = parts.virtual;
    this.testSeams = parts.testSeams;
  }

  get risks$(): Observable<RiskView[]> {
    return this.parts.risks.risks$;
  }

  risks(): RiskView[] {
    return this.parts.risks.risks();
  }

  async maintenance(): Promise<MaintenanceView> {
    const view = this.parts.maintenance.view(this.borrowViews());
    const advice = view.plan === null ? null : this.parts.codemeter.maintenanceAdvice(view.plan);
    return advice === null ? view : { ...view, codemeter: codeMeterMaintenanceView(advice) };
  }

  async planMaintenance(input: MaintenanceInput): Promise<MaintenanceView> {
    await this.parts.maintenance.set(input);
    return this.maintenance();
  }

  async cancelMaintenance(): Promise<MaintenanceView> {
    const cancelled = await this.parts.maintenance.cancel();
    return { ...(await this.maintenance()), cancelled };
  }

  async audit(query: AuditQueryInput = {}): Promise<AuditEntryView[]> {
    return listAuditEntries(this.parts.ledger, query);
  }

  recentEvents(options: { after?: number; limit?: number } = {}): EventHistoryView {
    return this.parts.events.history(options);
  }

  async ready(): Promise<void> {
    // openBridge resolves only once everything runs; kept for callers that hold the bridge early.
  }

  async status(): Promise<StatusView> {
    const { ledger, mirror, options } = this.parts;
    const all = this.borrowViews();
    const description = this.parts.registry.describe();
    const problem = this.parts.ledgerWatch.problem();
    const codemeter = codeMeterStatus(this.parts.codemeter.view());
    return {
      mode: this.mode,
      keys: await this.keys(),
      borrows: all.filter((borrow) => borrow.state !== "dummy"),
      dummies: this.dummyViews(),
      risks: this.risks(),
      ledger: {
        path: ledger.file,
        healthy: ledger.healthy,
        rebuilt: ledger.rebuilt,
        lastExportAt: isoOrNull(ledger.getMeta("last_export_at")),
        ...(problem === undefined ? {} : { problem: ledgerProblemText(problem) }),
      },
      maintenance: this.parts.maintenance.current(),
      registry: {
        kind: description.kind,
        location: description.location,
        lagMs: options.mirrorLagMs ?? 1000,
        healthy: mirror.healthy,
        lastDriftCheck: mirror.lastDriftCheckAt === undefined ? null : new Date(mirror.lastDriftCheckAt).toISOString(),
        refused: mirror.refused(),
      },
      ...(codemeter === undefined ? {} : { codemeter }),
    };
  }

  async keys(): Promise<KeyView[]> {
    const { keys, productName } = this.parts;
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

  async borrowList(
    filter: { serial?: string; state?: BorrowStateView; source?: "keybridge" | "codemeter" } = {},
  ): Promise<ListedBorrowView[]> {
    const own = filter.source === "codemeter" ? [] : await this.borrows(filter);
    if (filter.source === "keybridge") return own;
    const theirs = this.parts.codemeter.view().borrows.filter((borrow) => codeMeterBorrowMatches(borrow, filter));
    return theirs.length === 0 ? own : [...own, ...theirs];
  }

  async codemeter(): Promise<CodeMeterView> {
    return this.parts.codemeter.view();
  }

  async getBorrow(id: number, options: { serial?: string } = {}): Promise<BorrowView> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidRequestError("id", "id must be a positive integer");
    const row = this.parts.borrows.findOutstanding(id, options.serial);
    const view = this.borrowViews().find((candidate) => candidate.serial === row.serial && candidate.id === row.id);
    if (view === undefined) throw new Error(`borrow ${id} vanished from the index`);
    return view;
  }

  borrow(
    request: BorrowRequestInput,
    options: { signal?: AbortSignal; idempotencyKey?: string } = {},
  ): Promise<BorrowView> {
    return this.parts.borrows.borrow(request, options.signal, options.idempotencyKey);
  }

  returnBorrow(id: number, options: { signal?: AbortSignal; serial?: string } = {}): Promise<ReturnResultView> {
    return this.parts.borrows.returnBorrow(id, options.signal, options.serial);
  }

  reconcile(): Promise<ReconcileView> {
    return this.parts.reconciler.reconcile();
  }

  repair(): Promise<RepairResultView> {
    return this.parts.operations.run(() => this.parts.reconciler.repair());
  }

  preflight(action: PreflightAction): Promise<PreflightView> {
    return guardedPreflight(action, {
      refreshHost: () => this.parts.host.refresh(),
      answer: async (checked) =>
        joinPreflight(await this.parts.reconciler.preflight(checked), await this.parts.codemeter.preflight(checked)),
    });
  }

  migrate(): Promise<MigrationView> {
    return this.parts.migration.migrate();
  }

  licenseUpdate(
    serial: string,
    update: LicenseUpdateInput,
    options: { force?: boolean } = {},
  ): Promise<LicenseUpdateView> {
    return this.parts.licenseGuard.update(serial, update, options);
  }

  previewLicenseUpdate(
    serial: string,
    update: LicenseUpdateInput,
    options: { force?: boolean } = {},
  ): Promise<LicenseUpdatePreviewView> {
    return this.parts.licenseGuard.preview(serial, update, options);
  }

  async exportLedger(file: string): Promise<LedgerExportView> {
    const body = this.parts.ledger.export(file);
    return { file, borrows: body.borrows.length, keys: body.keys.length };
  }

  async importLedger(file: string, options: { force?: boolean } = {}): Promise<LedgerExportView> {
    return this.parts.operations.run(async () => {
      const summary = this.parts.ledger.import(file, { force: options.force === true });
      await this.afterImport();
      return { file, borrows: summary.borrows, keys: summary.keys };
    });
  }

  async exportLedgerText(): Promise<{ text: string; summary: LedgerExportView }> {
    const file = join(this.parts.options.dataDir, `.export-${process.pid}-${Date.now()}.json`);
    try {
      const summary = await this.exportLedger(file);
      return { text: readFileSync(file, "utf8"), summary };
    } finally {
      rmSync(file, { force: true });
    }
  }

  async importLedgerText(text: string, options: { force?: boolean } = {}): Promise<LedgerExportView> {
    const file = join(this.parts.options.dataDir, `.import-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, text, { mode: 0o600 });
    try {
      return await this.importLedger(file, options);
    } finally {
      rmSync(file, { force: true });
    }
  }

  close(): Promise<void> {
    this.closing ??= this.parts.shutDown();
    return this.closing;
  }

  private async afterImport(): Promise<void> {
    const { index, ledger, mirror, keys } = this.parts;
    index.load(ledger.listOutstanding());
    await mirror.checkDrift();
    // The imported rows are checked against each key now, as on attach.
    for (const session of keys.servingSessions()) await this.parts.recover(session);
  }

  private keyNowBySerial(): Map<string, number> {
    const now = Date.now();
    const times = new Map<string, number>();
    for (const session of this.parts.keys.allSessions()) times.set(session.serial, session.keyNow(now));
    return times;
  }

  private borrowViews(): BorrowView[] {
    const times = this.keyNowBySerial();
    const now = Date.now();
    const views: BorrowView[] = [];
    for (const entry of this.parts.index.all()) {
      views.push(borrowViewOf(entry, times.get(entry.row.serial) ?? now, this.parts.productName));
    }
    return views;
  }

  private dummyViews(): DummyView[] {
    const times = this.keyNowBySerial();
    const now = Date.now();
    const dummies: DummyView[] = [];
    for (const { row, dummyUntilIso } of this.parts.index.all()) {
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
}

/** A stored epoch-ms meta value as an ISO time; null when never set. */
function isoOrNull(epochMs: string | undefined): string | null {
  return epochMs === undefined ? null : new Date(Number(epochMs)).toISOString();
}

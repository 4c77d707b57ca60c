/**
 * The bridge's public contract: what the HTTP API serves, what the CLI prints with --json and
 * what `openBridge()` returns to services that embed keybridge. Fields may be added, never
 * renamed: scripts and embedding services depend on these names. Times are ISO 8601 strings.
 *
 * The shapes the API carries are TypeBox schemas (src/bridge/api-schemas/), and their types here
 * are derived from them: the server validates and documents with the same schemas, so the
 * library's types, the request checks and the OpenAPI document cannot disagree.
 */
import type { Static } from "@sinclair/typebox";
import type { Observable } from "rxjs";
import type { PreflightAction } from "../reconcile/index.js";
import type { BorrowSource, Severity } from "../vocabulary/index.js";
import type {
  AuditEntryViewSchema,
  BorrowRequestSchema,
  BorrowStateSchema,
  BorrowViewSchema,
  BridgeEventSchema,
  CodeMeterBorrowRefSchema,
  CodeMeterBorrowViewSchema,
  CodeMeterMaintenanceViewSchema,
  CodeMeterViewSchema,
  DummyViewSchema,
  EventHistoryViewSchema,
  FindingViewSchema,
  KeyExchangeViewSchema,
  KeyViewSchema,
  LedgerExportViewSchema,
  LicenseChangeViewSchema,
  LicenseInputSchema,
  LicenseUpdatePreviewViewSchema,
  LicenseUpdateViewSchema,
  LicenseViewSchema,
  ListedBorrowViewSchema,
  MaintenancePlanViewSchema,
  MaintenanceRequestSchema,
  MaintenanceViewSchema,
  MigrationItemViewSchema,
  MigrationViewSchema,
  PreflightBorrowViewSchema,
  PreflightViewSchema,
  ReconcileViewSchema,
  RepairResultViewSchema,
  RepairViewSchema,
  ReturnResultViewSchema,
  RiskViewSchema,
  StatusViewSchema,
  VirtualHostSchema,
  VirtualHostViewSchema,
  VirtualKeyViewSchema,
} from "./api-schemas/index.js";
import type { BRIDGE_EVENT_TYPES, RISK_KINDS } from "./api-schemas/names.js";

export { BRIDGE_EVENT_TYPES, RISK_KINDS } from "./api-schemas/names.js";
export type { BorrowSource, PreflightAction, Severity };

/**
 * `expired`: past expiresAt and not yet settled; `dummy`: blocks borrowing of its product until dummyUntil.
 * Listings hold only outstanding borrows (`active`, `expired`, `dummy`); the answer to a return and
 * the events of a return or settle show how the borrow ended: `returned` or `settled` (or `dummy`).
 */
export type BorrowStateView = Static<typeof BorrowStateSchema>;
export type BorrowView = Static<typeof BorrowViewSchema>;
export type LicenseView = Static<typeof LicenseViewSchema>;
export type KeyView = Static<typeof KeyViewSchema>;
export type RepairView = Static<typeof RepairViewSchema>;
export type FindingView = Static<typeof FindingViewSchema>;
export type DummyView = Static<typeof DummyViewSchema>;
export type ReconcileView = Static<typeof ReconcileViewSchema>;
export type RepairResultView = Static<typeof RepairResultViewSchema>;
export type RiskKind = (typeof RISK_KINDS)[number];
export type RiskView = Static<typeof RiskViewSchema>;
/** A keybridge borrow in a preflight answer. */
export type PreflightBorrowView = Static<typeof PreflightBorrowViewSchema>;
/** A CodeMeter borrow in a preflight or maintenance answer; unknown values are null. */
export type CodeMeterBorrowRefView = Static<typeof CodeMeterBorrowRefSchema>;
export type PreflightView = Static<typeof PreflightViewSchema>;
export type StatusView = Static<typeof StatusViewSchema>;
export type BorrowRequestInput = Static<typeof BorrowRequestSchema>;
/**
 * `returned`: the seat is free again. `dummy`: the key refused the return's proof (or held the borrow
 * as a dummy already) — the product is blocked until `borrow.dummyUntil`; nothing keybridge can undo.
 */
export type ReturnResultView = Static<typeof ReturnResultViewSchema>;
export type MigrationItemView = Static<typeof MigrationItemViewSchema>;
export type MigrationView = Static<typeof MigrationViewSchema>;
export type LicenseInput = Static<typeof LicenseInputSchema>;
export type LicenseUpdateView = Static<typeof LicenseUpdateViewSchema>;
export type LicenseChangeView = Static<typeof LicenseChangeViewSchema>;
/** What a license update would do, judged as the key and the guard would judge it; nothing is sent. */
export type LicenseUpdatePreviewView = Static<typeof LicenseUpdatePreviewViewSchema>;
/**
 * A license update: the bytes of a vendor-signed update file (`.kblu`, made by `keybridge vendor
 * sign`), or a bare license set, which only a key whose updates this bridge may sign accepts
 * (virtual mode's demo vendor; elsewhere KEY_UPDATE_NOT_SIGNED).
 */
export type LicenseUpdateInput = Uint8Array | LicenseInput[];
export type LedgerExportView = Static<typeof LedgerExportViewSchema>;
export type BridgeEventType = (typeof BRIDGE_EVENT_TYPES)[number];
export type BridgeEvent = Static<typeof BridgeEventSchema>;
/** One entry of the ledger's audit trail: what keybridge did or refused, and why. Durable. */
export type AuditEntryView = Static<typeof AuditEntryViewSchema>;

export interface AuditQueryInput {
  kind?: string;
  serial?: string;
  /** ISO 8601 time: only entries at or after it. */
  since?: string;
  /** Only entries older than this entry id (paging). */
  before?: number;
  /** Default 50, at most 1 000. */
  limit?: number;
}

/** One request/answer with a key, timed: what `Bridge.keyExchanges$` emits. */
export type KeyExchangeView = Static<typeof KeyExchangeViewSchema>;
/** What `Bridge.recentEvents` returns: the kept events after a sequence number, oldest first. */
export type EventHistoryView = Static<typeof EventHistoryViewSchema>;
/** A planned maintenance window: from `at` on, nothing may be borrowed; borrows made before end by `at`. */
export type MaintenancePlanView = Static<typeof MaintenancePlanViewSchema>;
export type MaintenanceView = Static<typeof MaintenanceViewSchema>;
export type MaintenanceInput = Static<typeof MaintenanceRequestSchema>;
export type VirtualKeyView = Static<typeof VirtualKeyViewSchema>;
export type VirtualHostInput = Static<typeof VirtualHostSchema>;
export type VirtualHostView = Static<typeof VirtualHostViewSchema>;
/**
 * keybridge cannot shorten a CodeMeter borrow: the plan says what to set in CodeMeter WebAdmin so
 * no new borrow reaches past the window, and which CodeMeter borrows out now still end after it.
 */
export type CodeMeterMaintenanceView = Static<typeof CodeMeterMaintenanceViewSchema>;
/** A CodeMeter borrow as keybridge saw it in the server's License Tracking log. Read-only: keybridge never returns it. */
export type CodeMeterBorrowView = Static<typeof CodeMeterBorrowViewSchema>;
/** A borrow of either source, as the borrow list shows it. */
export type ListedBorrowView = Static<typeof ListedBorrowViewSchema>;
/** `GET /v1/codemeter`: the read-only CodeMeter mode's picture. A host without CodeMeter shows `enabled: false` and nothing else. */
export type CodeMeterView = Static<typeof CodeMeterViewSchema>;

/** Present only in virtual mode. */
export interface VirtualControls {
  keys(): Promise<VirtualKeyView[]>;
  create(input: { serial?: string; licenses?: LicenseInput[] }): Promise<VirtualKeyView>;
  plug(serial: string): Promise<VirtualKeyView>;
  unplug(serial: string): Promise<VirtualKeyView>;
  /** Moves every virtual key's clock forward. */
  advanceClock(ms: number): Promise<{ keyTime: string }>;
  setHost(input: VirtualHostInput): Promise<VirtualHostView>;
  wipeRegistry(): Promise<void>;
}

export interface Bridge {
  readonly mode: "real" | "virtual";
  status(): Promise<StatusView>;
  keys(): Promise<KeyView[]>;
  borrows(filter?: { serial?: string; state?: BorrowStateView }): Promise<BorrowView[]>;
  /**
   * keybridge's borrows and, while the CodeMeter mode runs, the CodeMeter server's (read-only),
   * each with its `source`; `GET /v1/borrows` and `keybridge borrows` show this list.
   */
  borrowList(filter?: { serial?: string; state?: BorrowStateView; source?: BorrowSource }): Promise<ListedBorrowView[]>;
  /** The read-only CodeMeter mode's picture (`enabled: false` and empty when it does not run). */
  codemeter(): Promise<CodeMeterView>;
  /** `serial` names the key when the same id is outstanding on two keys (ids are per key). */
  getBorrow(id: number, options?: { serial?: string }): Promise<BorrowView>;
  /**
   * `idempotencyKey` makes a retry safe: the same key with the same request answers the same borrow
   * (also after a restart; after the borrow ended, in its final state), never a second seat; the
   * same key with another request is IDEMPOTENCY_KEY_REUSED.
   */
  borrow(request: BorrowRequestInput, options?: { signal?: AbortSignal; idempotencyKey?: string }): Promise<BorrowView>;
  returnBorrow(id: number, options?: { signal?: AbortSignal; serial?: string }): Promise<ReturnResultView>;
  reconcile(): Promise<ReconcileView>;
  repair(): Promise<RepairResultView>;
  preflight(action: PreflightAction): Promise<PreflightView>;
  migrate(): Promise<MigrationView>;
  /**
   * Replaces the key's license set (K6: with borrows out it is refused, BORROWS_OUTSTANDING, unless
   * `force`, which turns them into dummies). A signed update the key would refuse (another serial,
   * a counter not above the key's, a signature not by its vendor, a key not provisioned) is refused
   * with the key's code before anything is sent.
   */
  licenseUpdate(serial: string, update: LicenseUpdateInput, options?: { force?: boolean }): Promise<LicenseUpdateView>;
  /** What `licenseUpdate` with the same arguments would change and whether it would be refused; nothing is sent. */
  previewLicenseUpdate(
    serial: string,
    update: LicenseUpdateInput,
    options?: { force?: boolean },
  ): Promise<LicenseUpdatePreviewView>;
  /** Writes the checksummed export file on this host (0600). */
  exportLedger(file: string): Promise<LedgerExportView>;
  importLedger(file: string, options?: { force?: boolean }): Promise<LedgerExportView>;
  /** The export file's exact text, for the HTTP API: the CLI writes it where the user asked. */
  exportLedgerText(): Promise<{ text: string; summary: LedgerExportView }>;
  importLedgerText(text: string, options?: { force?: boolean }): Promise<LedgerExportView>;
  risks(): RiskView[];
  /** The planned maintenance window, if any, and the borrows still standing in its way. */
  maintenance(): Promise<MaintenanceView>;
  /** Plans (or replaces) the window; durable, audited, published as `maintenance.planned`. */
  planMaintenance(input: MaintenanceInput): Promise<MaintenanceView>;
  /** Ends the plan (borrowing is normal again); published as `maintenance.cancelled`. */
  cancelMaintenance(): Promise<MaintenanceView>;
  /** The ledger's audit trail, newest first: survives restarts, unlike `recentEvents`. */
  audit(query?: AuditQueryInput): Promise<AuditEntryView[]>;
  /**
   * The last events of this run (1 000 are kept), after sequence number `after` (default: all
   * kept), at most the newest `limit`. For readers who were away; live readers use `events$`.
   */
  recentEvents(options?: { after?: number; limit?: number }): EventHistoryView;
  readonly events$: Observable<BridgeEvent>;
  /** Every exchange with a key as it ends, timed; for latency metrics, not replayed. */
  readonly keyExchanges$: Observable<KeyExchangeView>;
  /** The open risks, replayed to each subscriber, then every change. */
  readonly risks$: Observable<RiskView[]>;
  readonly virtual: VirtualControls | undefined;
  /** Resolves once the key manager, ledger, mirror and watchers are running. */
  ready(): Promise<void>;
  /** Stops accepting operations, finishes in-flight ones, releases the key, flushes the mirror. */
  close(): Promise<void>;
}

/** Everything `openBridge` needs; the daemon builds it from the validated configuration. */
export interface BridgeOptions {
  /** Holds the ledger, the registry file where the OS has no other, virtual keys and host state (0700). */
  dataDir: string;
  mode: "real" | "virtual";
  registry?: { kind?: "ini" | "windows" | "memory"; path?: string };
  /** Longest time the OS registry may trail the ledger. Default 1000 ms. */
  mirrorLagMs?: number;
  /** How often registry drift is checked and repaired. Default 60 000 ms. */
  driftCheckMs?: number;
  /** Host identity poll interval. Default 5000 ms. */
  hostPollMs?: number;
  /** Clock-jump check interval. Default 10 000 ms. */
  clockCheckMs?: number;
  /** Default timeout of one key exchange, queue wait included. Default 5000 ms. */
  exchangeTimeoutMs?: number;
  /** Callers that may wait for the key at once; more get a queue-full error (HTTP 503). Default 64. */
  queueLimit?: number;
  /** Virtual mode: latency per report of the virtual key. Default 0. */
  virtualLatencyMs?: number;
  /** Host identity components bound into each borrow. Default ["ips", "hostname", "machineId"]. */
  bindingComponents?: ("ips" | "hostname" | "machineId" | "osInstallId")[];
  /**
   * The read-only CodeMeter mode: `auto` (default) runs it when a CodeMeter installation is found
   * on this host, `on` always (each missing part is a finding), `off` never. Unset paths are the
   * platform's defaults.
   */
  codemeter?: { mode?: "auto" | "on" | "off"; serverIni?: string; logDir?: string; cmu?: string };
}

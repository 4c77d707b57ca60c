/**
 * The bridge's public contract: what the HTTP API serves, what the CLI prints with --json and
 * what `openBridge()` returns to services that embed keybridge. Fields may be added, never
 * renamed: scripts and embedding services depend on these names. Times are ISO 8601 strings.
 */
import type { Observable } from "rxjs";
import type { PreflightAction } from "../reconcile/index.js";
import type { BorrowSource, RiskKind, Severity } from "../vocabulary/index.js";

export type { BorrowSource, PreflightAction, RiskKind, Severity };

/**
 * `expired`: past expiresAt and not yet settled; `dummy`: blocks borrowing of its product until dummyUntil.
 * Listings hold only outstanding borrows (`active`, `expired`, `dummy`); the answer to a return and
 * the events of a return or settle show how the borrow ended: `returned` or `settled` (or `dummy`).
 */
export type BorrowStateView = "active" | "expired" | "dummy" | "returned" | "settled";

export interface BorrowView {
  /** keybridge's own borrow (CodeMeter borrows in the same lists are `CodeMeterBorrowView`). */
  source: "keybridge";
  id: number;
  serial: string;
  product: number;
  client: string;
  issuedAt: string;
  expiresAt: string;
  state: BorrowStateView;
  dummyUntil?: string;
  productName?: string;
}

export interface LicenseView {
  product: number;
  name?: string;
  seats: number;
  borrowable: number;
  /** Active borrows on the key. */
  borrowed: number;
  dummies: number;
  borrowDays: number;
}

export interface KeyView {
  serial: string;
  present: boolean;
  /** `codemeter`: a CodeMeter stick, recognised and watched, never spoken to. */
  kind: "keybridge" | "codemeter";
  firmwareVersion?: string;
  licenseSetVersion?: number;
  lastSeen?: string;
  /**
   * The key's clock when this answer was made (ISO). A borrow's issuedAt and expiresAt are in this
   * clock; it differs from the server's clock only when one of them was moved (or in virtual mode,
   * by `virtual clock`). Absent while the key is not attached, and for CodeMeter sticks.
   */
  keyTime?: string;
  licenses: LicenseView[];
}

export interface RepairView {
  action: string;
  /** Applied by `reconcile --repair`: it can neither create a dummy nor free a seat a client holds. */
  safe: boolean;
  description: string;
}

export interface FindingView {
  kind: string;
  severity: Severity;
  message: string;
  repair: RepairView;
  borrowId?: number;
  serial?: string;
  product?: number;
  client?: string;
}

export interface DummyView {
  serial: string;
  product: number;
  borrowId: number;
  dummyUntil: string | null;
  /** Borrowing of this product on this key is refused until then (rule K1). */
  blocksProduct: boolean;
}

export interface ReconcileView {
  findings: FindingView[];
  dummies: DummyView[];
  blockedProducts: { serial: string; product: number; until: string | null }[];
  counts: Record<string, number>;
}

export interface RepairResultView {
  applied: {
    kind: string;
    action: string;
    borrowId?: number;
    serial?: string;
    outcome: "done" | "failed";
    message: string;
  }[];
  after: ReconcileView;
}

export interface RiskView {
  kind: RiskKind;
  /** Whose borrows it endangers: keybridge's own, or the CodeMeter server's on this host. */
  source: BorrowSource;
  severity: Severity;
  /** Plain language: what happened and which borrows it endangers. */
  message: string;
  /** What to do about it. */
  advice: string;
  since: string;
  serial?: string;
  /** keybridge borrows it endangers (source `keybridge`). */
  borrowIds?: number[];
  /** CodeMeter borrows it endangers (source `codemeter`): `<mask>-<serial>-<firm code>-<index>`. */
  codeMeterBorrowIds?: string[];
}

/** A keybridge borrow in a preflight answer. */
export interface PreflightBorrowView {
  source: "keybridge";
  serial: string;
  id: number;
  product: number;
  client: string;
  expiresAt: string;
}

/** A CodeMeter borrow in a preflight or maintenance answer; unknown values are null. */
export interface CodeMeterBorrowRefView {
  source: "codemeter";
  borrowId: string;
  serial: string | null;
  firmCode: number | null;
  productCode: number | null;
  client: string | null;
  user: string | null;
  /** ISO, or null for a borrow that never expires. */
  expiresAt: string | null;
}

export interface PreflightView {
  action: PreflightAction;
  /** Safe for keybridge's borrows and for the CodeMeter server's (when the CodeMeter mode runs). */
  safe: boolean;
  reasons: string[];
  advice: string[];
  /** Every borrow in the way, of both sources. */
  borrows: (PreflightBorrowView | CodeMeterBorrowRefView)[];
  /** When the last borrow in the way ends (ISO); null when none is in the way or one never expires. */
  lastEndsAt: string | null;
}

export interface StatusView {
  mode: "real" | "virtual";
  keys: KeyView[];
  /** Outstanding borrows (active and expired), dummies excluded. */
  borrows: BorrowView[];
  dummies: DummyView[];
  risks: RiskView[];
  /** `lastExportAt`: when the ledger was last exported (ISO time), the backup that holds every tag; null if never. */
  /** `problem`: what is wrong while not healthy (writes failing, the file deleted or replaced), and what to do. */
  ledger: { path: string; healthy: boolean; rebuilt: boolean; lastExportAt: string | null; problem?: string };
  /** The planned maintenance window, or null. */
  maintenance: MaintenancePlanView | null;
  /** Only while the CodeMeter mode runs: one line's worth of it (see `Bridge.codemeter()`). */
  codemeter?: {
    runtimeVersion: string | null;
    serviceRunning: boolean | null;
    trackingEnabled: boolean | null;
    sticksPresent: number;
    borrowsOutstanding: number;
  };
  /**
   * `lastDriftCheck`: when the mirror last compared the registry with the ledger (ISO time);
   * null until the first check at start has finished, while `healthy` is not yet known.
   */
  registry: {
    kind: string;
    location: string;
    lagMs: number;
    healthy: boolean;
    lastDriftCheck: string | null;
    /**
     * Borrows the registry refused to store (a client name with a NUL, recorded before names were
     * checked): the ledger holds them, the other entries are copied. Empty normally.
     */
    refused: { serial: string; id: number; reason: string }[];
  };
}

export interface BorrowRequestInput {
  product: number;
  client: string;
  days?: number;
  /** Which key to borrow from; the first key holding the product when omitted. */
  serial?: string;
}

/**
 * `returned`: the seat is free again. `dummy`: the key refused the return's proof (or held the borrow
 * as a dummy already) — the product is blocked until `borrow.dummyUntil`; nothing keybridge can undo.
 */
export interface ReturnResultView {
  borrow: BorrowView;
  outcome: "returned" | "dummy";
}

export interface MigrationItemView {
  serial: string;
  borrowId: number;
  client: string;
  product: number;
  outcome: "rebound" | "already-current" | "refused" | "failed" | "skipped";
  message: string;
}

export interface MigrationView {
  binding: string;
  items: MigrationItemView[];
  rebound: number;
  failed: number;
}

export interface LicenseInput {
  product: number;
  seats: number;
  borrowable: number;
  borrowDays: number;
}

export interface LicenseUpdateView {
  serial: string;
  licenseSetVersion: number;
  forced: boolean;
  /** Borrows the update turned into dummies (rule K6); empty unless forced with borrows out. */
  dummiesCreated: BorrowView[];
}

export interface LedgerExportView {
  file: string;
  borrows: number;
  keys: number;
}

/** Every kind of event the bridge publishes, in the order the documentation lists them. */
export const BRIDGE_EVENT_TYPES = [
  "borrow.created",
  "borrow.returned",
  "borrow.settled",
  "borrow.dummy",
  "key.attached",
  "key.detached",
  "key.moved",
  "key.counterfeit",
  "host.changed",
  "clock.jump",
  "risk.raised",
  "risk.cleared",
  "registry.repaired",
  "ledger.rebuilt",
  "migration.done",
  "license.updated",
  "reconcile.repaired",
  "maintenance.planned",
  "maintenance.cancelled",
  "codemeter.borrow.seen",
  "codemeter.borrow.relisted",
  "codemeter.borrow.missing",
  "codemeter.borrow.gone",
] as const;

export type BridgeEventType = (typeof BRIDGE_EVENT_TYPES)[number];

export interface BridgeEvent {
  type: BridgeEventType;
  /**
   * Position in this run's event history, from 1; with `EventHistoryView.runId` it names the event
   * (the SSE `id`). Absent only on the snapshot of open risks a new SSE stream starts with.
   */
  seq?: number;
  at: string;
  serial?: string;
  borrow?: BorrowView;
  risk?: RiskView;
  message: string;
  details?: Record<string, unknown>;
}

/** One entry of the ledger's audit trail: what keybridge did or refused, and why. Durable. */
export interface AuditEntryView {
  /** Increasing; pass the last one seen as `before` for the next (older) page. */
  id: number;
  at: string;
  /** e.g. counterfeit-key, license-update-forced, rollback, repair, rebind, migrate, ledger-rebuilt. */
  kind: string;
  serial?: string;
  borrowId?: number;
  message: string;
  details: Record<string, unknown>;
}

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
export interface KeyExchangeView {
  /** Absent for the first exchange with a key, which asks it for its serial. */
  serial?: string;
  /** The command's protocol name: BORROW, SETTLE, LIST_BORROWS, GET_INFO, ... */
  command: string;
  /** From the request leaving the queue to the whole answer read, BUSY retries included. */
  seconds: number;
  /** Time the request waited behind other calls to the same key before that. */
  waitedSeconds: number;
  /** `answered`: the key answered (OK or a refusal); `failed`: no usable answer (timeout, unplug, framing). */
  outcome: "answered" | "failed";
  /** The refusal status (e.g. NO_BORROWABLE) or the transport error code, when not OK. */
  code?: string;
}

/** What `Bridge.recentEvents` returns: the kept events after a sequence number, oldest first. */
export interface EventHistoryView {
  /** Changes at every daemon start; sequence numbers of another run mean nothing in this one. */
  runId: string;
  /** The sequence number of the newest event of this run (0 before the first). */
  lastSeq: number;
  /** True when events after the asked-for one are no longer kept or were cut by the limit. */
  truncated: boolean;
  events: BridgeEvent[];
}

/** A planned maintenance window: from `at` on, nothing may be borrowed; borrows made before end by `at`. */
export interface MaintenancePlanView {
  at: string;
  /** When borrowing opens again by itself; null: only when the plan is cancelled. */
  until: string | null;
  /** The dangerous action the window is for (shown, and judged by preflight at `at`). */
  action: PreflightAction | null;
  note: string | null;
  plannedAt: string;
}

export interface MaintenanceView {
  plan: MaintenancePlanView | null;
  /** `before` the window (borrows end by `at`), `during` it (no borrows), `over` (`until` passed), or `none`. */
  phase: "none" | "before" | "during" | "over";
  /** Outstanding borrows that end after `at`: returned early, they no longer stand in the way. */
  borrowsEndingAfter: BorrowView[];
  /** True when no outstanding borrow ends after `at` (a borrow that expires before it is settled by then). */
  clear: boolean;
  /** One sentence: what the plan means now. */
  summary: string;
  /** Only in the answer to a cancel: the plan that was ended, or null when none was planned. */
  cancelled?: MaintenancePlanView | null;
  /** Only while the CodeMeter mode runs and a window is planned: what to set in WebAdmin, and its borrows in the way. */
  codemeter?: CodeMeterMaintenanceView;
}

/**
 * keybridge cannot shorten a CodeMeter borrow: the plan says what to set in CodeMeter WebAdmin so
 * no new borrow reaches past the window, and which CodeMeter borrows out now still end after it.
 */
export interface CodeMeterMaintenanceView {
  /** "Maximum Borrow Duration" in minutes, from now to the window; null once the window has begun. */
  maximumBorrowDurationMinutes: number | null;
  /** The setting in words, ready to follow. */
  setting: string;
  borrowsEndingAfter: CodeMeterBorrowRefView[];
  clear: boolean;
  summary: string;
}

/** A CodeMeter borrow as keybridge saw it in the server's License Tracking log. Read-only: keybridge never returns it. */
export interface CodeMeterBorrowView {
  source: "codemeter";
  /** `<mask>-<serial>-<firm code>-<index>`, with the borrowing client's container. */
  borrowId: string;
  /** The server container (CmStick) holding the license. */
  serial: string | null;
  firmCode: number | null;
  productCode: number | null;
  productText: string | null;
  client: string | null;
  user: string | null;
  /** ISO, or null for `never`. */
  expiresAt: string | null;
  firstSeen: string;
  lastSeen: string;
  /** `active`: out; `missing`: not re-listed at a server start, a Borrow Dummy is likely until `dummyUntil`. */
  state: "active" | "missing";
  dummyUntil: string | null;
}

/** A borrow of either source, as the borrow list shows it. */
export type ListedBorrowView = BorrowView | CodeMeterBorrowView;

/** `GET /v1/codemeter`: the read-only CodeMeter mode's picture. A host without CodeMeter shows `enabled: false` and nothing else. */
export interface CodeMeterView {
  enabled: boolean;
  /** The configured mode and why it runs or not. */
  mode: "auto" | "on" | "off";
  reason: string;
  runtime: { version: string | null; serviceRunning: boolean | null };
  /** License Tracking (LogLicenseTracking): keybridge sees CodeMeter borrows only while it is on. */
  tracking: { enabled: boolean | null; dir: string | null };
  sticks: { serial: string; model: string | null; present: boolean }[];
  /** Outstanding (and missing) CodeMeter borrows, soonest expiry first. */
  borrows: CodeMeterBorrowView[];
  /** The open risks with source `codemeter`. */
  risks: RiskView[];
  /** What keybridge cannot read, and why (cmu missing, the log unreadable, ...). */
  findings: { code: string; message: string }[];
  /** Tracking-log lines read and lines skipped as malformed or oversized, since keybridge started. */
  logLines: { parsed: number; skipped: number };
}

export interface MaintenanceInput {
  /** ISO time the window starts. */
  at: string;
  /** ISO time it ends; borrowing opens again by itself then. */
  until?: string;
  action?: PreflightAction;
  note?: string;
}

export interface VirtualKeyView {
  serial: string;
  plugged: boolean;
  keyTime: string;
  licenses: LicenseInput[];
}

export interface VirtualHostInput {
  ip?: string;
  hostname?: string;
  machineId?: string;
}

/** Present only in virtual mode. */
export interface VirtualControls {
  keys(): Promise<VirtualKeyView[]>;
  create(input: { serial?: string; licenses?: LicenseInput[] }): Promise<VirtualKeyView>;
  plug(serial: string): Promise<VirtualKeyView>;
  unplug(serial: string): Promise<VirtualKeyView>;
  /** Moves every virtual key's clock forward. */
  advanceClock(ms: number): Promise<{ keyTime: string }>;
  setHost(input: VirtualHostInput): Promise<{ ips: string[]; hostname: string; machineId: string }>;
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
  licenseUpdate(serial: string, licenses: LicenseInput[], options?: { force?: boolean }): Promise<LicenseUpdateView>;
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

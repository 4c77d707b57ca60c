/**
 * An in-memory Bridge for server and CLI tests. It keeps the key model's honest behaviour where the
 * API can observe it: seats are conserved, dummies block borrowing of their product (K1), a forced
 * license update turns active borrows into dummies (K6), unplugging a key with borrows out raises a
 * risk, and the key answers one caller at a time with a bounded queue (TRANSPORT_QUEUE_FULL).
 */
import { BehaviorSubject, Subject } from "rxjs";
import type {
  AuditEntryView,
  AuditQueryInput,
  BorrowRequestInput,
  BorrowStateView,
  BorrowView,
  Bridge,
  BridgeEvent,
  CodeMeterView,
  DummyView,
  EventHistoryView,
  KeyExchangeView,
  KeyView,
  LedgerExportView,
  LicenseInput,
  LicenseUpdateView,
  ListedBorrowView,
  MaintenanceInput,
  MaintenanceView,
  MigrationView,
  PreflightAction,
  PreflightView,
  ReconcileView,
  RepairResultView,
  ReturnResultView,
  RiskView,
  StatusView,
  VirtualControls,
  VirtualKeyView,
} from "../../../src/bridge/api.js";
import { EventBus } from "../../../src/bridge/event-bus.js";
import { MaintenancePlanner } from "../../../src/bridge/maintenance.js";
import { KeybridgeError } from "../../../src/errors.js";
import { isPreflightAction, UnknownPreflightActionError } from "../../../src/reconcile/index.js";

const DAY = 86_400_000;

interface FakeKey {
  serial: string;
  plugged: boolean;
  licenseSetVersion: number;
  licenses: LicenseInput[];
}

interface FakeBorrow {
  id: number;
  serial: string;
  product: number;
  client: string;
  issuedAt: number;
  expiresAt: number;
  state: "active" | "dummy";
  dummyUntil?: number;
}

export interface FakeBridgeOptions {
  mode?: "real" | "virtual";
  /** Simulated key time per operation, in ms (0 = answer on the next tick). */
  latencyMs?: number;
  /** Callers that may wait for the key at once. */
  queueLimit?: number;
  keys?: { serial: string; licenses: LicenseInput[] }[];
}

export const DEMO_LICENSES: LicenseInput[] = [
  { product: 1001, seats: 10, borrowable: 4, borrowDays: 30 },
  { product: 1002, seats: 5, borrowable: 2, borrowDays: 14 },
];

function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new KeybridgeError(code, message, details === undefined ? undefined : { details });
}

export class FakeBridge implements Bridge {
  private lastExportAt: string | null = null;
  readonly mode: "real" | "virtual";
  readonly events$: Subject<BridgeEvent>;
  /** Tests push samples here as the key manager would. */
  readonly keyExchanges$ = new Subject<KeyExchangeView>();
  readonly risks$: BehaviorSubject<RiskView[]>;
  readonly virtual: VirtualControls | undefined;
  closed = false;
  /** Errors thrown by the next operations, in order (to provoke 503s and 500s). */
  readonly injectedErrors: Error[] = [];
  /** Most borrows outstanding ever seen at one instant, per serial/product. */
  readonly maxBorrowed = new Map<string, number>();

  private readonly bus = new EventBus();
  private readonly meta = new Map<string, string>();
  /** The bridge's own planner over an in-memory meta table and this fake's audit trail. */
  private readonly planner = new MaintenancePlanner(
    {
      ledger: {
        getMeta: (key) => this.meta.get(key),
        commit: async (work) =>
          work({
            setMeta: (key, value) => void this.meta.set(key, value),
            audit: (entry) =>
              this.auditTrail.push({
                id: this.auditTrail.length + 1,
                at: new Date(this.now()).toISOString(),
                ...entry,
                details: entry.details ?? {},
              }),
          }),
      },
      events: this.bus,
    },
    () => this.now(),
  );
  /** Newest last; `audit()` answers newest first, as the ledger does. */
  readonly auditTrail: AuditEntryView[] = [];
  private readonly keyMap = new Map<string, FakeKey>();
  private readonly records = new Map<number, FakeBorrow>();
  private readonly openRisks = new Map<string, RiskView>();
  private nextId = 1;
  private clockOffset = 0;
  private host = { ips: ["192.0.2.10"], hostname: "license-server", machineId: "0123456789abcdef" };
  private readonly latencyMs: number;
  private readonly queueLimit: number;
  private waiting = 0;
  private keyLock: Promise<void> = Promise.resolve();

  constructor(options: FakeBridgeOptions = {}) {
    this.mode = options.mode ?? "virtual";
    this.latencyMs = options.latencyMs ?? 0;
    this.queueLimit = options.queueLimit ?? 64;
    this.events$ = new Subject<BridgeEvent>();
    this.bus.events$.subscribe(this.events$);
    this.risks$ = new BehaviorSubject<RiskView[]>([]);
    for (const key of options.keys ?? [{ serial: "KB-0001", licenses: DEMO_LICENSES }]) {
      this.keyMap.set(key.serial, {
        serial: key.serial,
        plugged: true,
        licenseSetVersion: 1,
        licenses: [...key.licenses],
      });
    }
    this.virtual = this.mode === "virtual" ? this.virtualControls() : undefined;
  }

  now(): number {
    return Date.now() + this.clockOffset;
  }

  async status(): Promise<StatusView> {
    this.tick();
    const borrows = (await this.borrows()).filter((b) => b.state !== "dummy");
    return {
      mode: this.mode,
      keys: await this.keys(),
      borrows,
      dummies: this.dummyViews(),
      risks: this.risks(),
      ledger: { path: "/fake/ledger.sqlite", healthy: true, rebuilt: false, lastExportAt: this.lastExportAt },
      maintenance: this.planner.current(),
      registry: { kind: "memory", location: "memory", lagMs: 0, healthy: true, lastDriftCheck: null, refused: [] },
    };
  }

  async keys(): Promise<KeyView[]> {
    this.tick();
    return [...this.keyMap.values()].map((key) => ({
      serial: key.serial,
      present: key.plugged,
      kind: "keybridge",
      firmwareVersion: "1.0.0",
      licenseSetVersion: key.licenseSetVersion,
      ...(key.plugged ? { keyTime: new Date(this.now()).toISOString() } : {}),
      licenses: key.licenses.map((license) => ({
        product: license.product,
        seats: license.seats,
        borrowable: license.borrowable,
        borrowed: this.count(key.serial, license.product, "active"),
        dummies: this.count(key.serial, license.product, "dummy"),
        borrowDays: license.borrowDays,
      })),
    }));
  }

  async borrows(filter: { serial?: string; state?: BorrowStateView } = {}): Promise<BorrowView[]> {
    this.tick();
    return [...this.records.values()]
      .map((record) => this.view(record))
      .filter(
        (b) =>
          (filter.serial === undefined || b.serial === filter.serial) &&
          (filter.state === undefined || b.state === filter.state),
      );
  }

  async borrowList(
    filter: { serial?: string; state?: BorrowStateView; source?: "keybridge" | "codemeter" } = {},
  ): Promise<ListedBorrowView[]> {
    if (filter.source === "codemeter") return [];
    return this.borrows(filter);
  }

  /** No CodeMeter on the fake's host: the mode does not run. */
  async codemeter(): Promise<CodeMeterView> {
    return {
      enabled: false,
      mode: "auto",
      reason: "no CodeMeter installation found",
      runtime: { version: null, serviceRunning: null },
      tracking: { enabled: null, dir: null },
      sticks: [],
      borrows: [],
      risks: [],
      findings: [],
      logLines: { parsed: 0, skipped: 0 },
    };
  }

  async getBorrow(id: number): Promise<BorrowView> {
    this.tick();
    const record = this.records.get(id);
    if (record === undefined) fail("BORROW_NOT_FOUND", `no borrow with id ${id}`, { id });
    return this.view(record);
  }

  async borrow(request: BorrowRequestInput): Promise<BorrowView> {
    return this.withKey(async () => {
      this.tick();
      const key = request.serial === undefined ? this.keyHolding(request.product) : this.keyMap.get(request.serial);
      if (key === undefined) fail("KEY_UNKNOWN_PRODUCT", `no key holds product ${request.product}`);
      if (!key.plugged) fail("KEY_DISCONNECTED", `key ${key.serial} is not plugged in`, { serial: key.serial });
      const license = key.licenses.find((l) => l.product === request.product);
      if (license === undefined) fail("KEY_UNKNOWN_PRODUCT", `key ${key.serial} holds no product ${request.product}`);
      if (request.days !== undefined && (request.days < 1 || request.days > license.borrowDays)) {
        fail("KEY_BAD_REQUEST", `days must be 1..${license.borrowDays}`);
      }
      const days = this.planner.allowedDays(request.days, license.borrowDays, this.now());
      const active = this.count(key.serial, license.product, "active");
      const dummies = this.count(key.serial, license.product, "dummy");
      if (dummies > 0 || active + dummies >= license.borrowable) {
        fail("KEY_NO_BORROWABLE", "No more licenses are available for borrowing");
      }
      const now = this.now();
      const record: FakeBorrow = {
        id: this.nextId++,
        serial: key.serial,
        product: license.product,
        client: request.client,
        issuedAt: now,
        expiresAt: now + days * DAY,
        state: "active",
      };
      this.records.set(record.id, record);
      const seatKey = `${key.serial}/${license.product}`;
      this.maxBorrowed.set(seatKey, Math.max(this.maxBorrowed.get(seatKey) ?? 0, active + 1));
      const view = this.view(record);
      this.emit({ type: "borrow.created", serial: key.serial, borrow: view, message: `borrow ${record.id} created` });
      return view;
    });
  }

  async returnBorrow(id: number): Promise<ReturnResultView> {
    return this.withKey(async () => {
      this.tick();
      const record = this.records.get(id);
      if (record === undefined) fail("KEY_UNKNOWN_BORROW", `no borrow with id ${id}`, { id });
      const key = this.keyMap.get(record.serial);
      if (key === undefined || !key.plugged) fail("KEY_DISCONNECTED", `key ${record.serial} is not plugged in`);
      // As the bridge does: the key holds it as a dummy, and the answer says so (never "returned").
      if (record.state === "dummy") return { borrow: this.view(record), outcome: "dummy" };
      this.records.delete(id);
      const view: BorrowView = { ...this.view(record), state: "returned" };
      this.emit({ type: "borrow.returned", serial: record.serial, borrow: view, message: `borrow ${id} returned` });
      return { borrow: view, outcome: "returned" };
    });
  }

  async reconcile(): Promise<ReconcileView> {
    this.tick();
    const findings = [...this.records.values()]
      .filter((r) => r.state === "active")
      .map((r) => ({
        kind: "healthy",
        severity: "info" as const,
        message: `borrow ${r.id} is recorded in key, registry and ledger`,
        repair: { action: "none", safe: true, description: "nothing to do" },
        borrowId: r.id,
        serial: r.serial,
      }));
    return {
      findings,
      dummies: this.dummyViews(),
      blockedProducts: this.dummyViews().map((d) => ({ serial: d.serial, product: d.product, until: d.dummyUntil })),
      counts: { healthy: findings.length },
    };
  }

  async repair(): Promise<RepairResultView> {
    this.maybeFail();
    return { applied: [], after: await this.reconcile() };
  }

  async preflight(action: PreflightAction): Promise<PreflightView> {
    if (!isPreflightAction(action)) throw new UnknownPreflightActionError(String(action));
    this.tick();
    const outstanding = [...this.records.values()].filter((r) => r.state === "active");
    const safe = action === "restart-service" || outstanding.length === 0;
    return {
      action,
      safe,
      reasons: safe ? [] : outstanding.map((r) => `borrow ${r.id} of product ${r.product} by ${r.client} is out`),
      advice: safe ? [] : ["Return these borrows first, or wait until they expire."],
      borrows: safe
        ? []
        : outstanding.map((r) => ({
            source: "keybridge" as const,
            serial: r.serial,
            id: r.id,
            product: r.product,
            client: r.client,
            expiresAt: new Date(r.expiresAt).toISOString(),
          })),
      lastEndsAt:
        safe || outstanding.length === 0
          ? null
          : new Date(Math.max(...outstanding.map((r) => r.expiresAt))).toISOString(),
    };
  }

  async migrate(): Promise<MigrationView> {
    this.maybeFail();
    const items = [...this.records.values()]
      .filter((r) => r.state === "active")
      .map((r) => ({
        serial: r.serial,
        borrowId: r.id,
        client: r.client,
        product: r.product,
        outcome: "already-current" as const,
        message: "bound to the current host identity",
      }));
    return { binding: "ab".repeat(32), items, rebound: 0, failed: 0 };
  }

  async licenseUpdate(
    serial: string,
    licenses: LicenseInput[],
    options: { force?: boolean } = {},
  ): Promise<LicenseUpdateView> {
    return this.withKey(async () => {
      const key = this.keyMap.get(serial);
      if (key === undefined) fail("KEY_NOT_FOUND", `no key with serial ${serial}`, { serial });
      const active = [...this.records.values()].filter((r) => r.serial === serial && r.state === "active");
      if (active.length > 0 && options.force !== true) {
        fail(
          "LICENSE_UPDATE_REFUSED",
          `${active.length} borrow(s) are out on ${serial}; an update would turn them into dummies`,
        );
      }
      const dummiesCreated: BorrowView[] = [];
      for (const record of active) {
        const borrowDays = key.licenses.find((l) => l.product === record.product)?.borrowDays ?? 30;
        record.state = "dummy";
        record.dummyUntil = this.now() + borrowDays * DAY;
        dummiesCreated.push(this.view(record));
        this.emit({
          type: "borrow.dummy",
          serial,
          borrow: this.view(record),
          message: `borrow ${record.id} became a dummy`,
        });
      }
      key.licenses = [...licenses];
      key.licenseSetVersion += 1;
      this.emit({ type: "license.updated", serial, message: `licenses of ${serial} updated` });
      if (options.force === true && dummiesCreated.length > 0) {
        this.auditTrail.push({
          id: this.auditTrail.length + 1,
          at: new Date(this.now()).toISOString(),
          kind: "license-update-forced",
          serial,
          message: `license update forced on ${serial}: ${dummiesCreated.length} borrow(s) became dummies`,
          details: { dummies: dummiesCreated.map((view) => view.id) },
        });
      }
      return { serial, licenseSetVersion: key.licenseSetVersion, forced: options.force === true, dummiesCreated };
    });
  }

  async exportLedger(file: string): Promise<LedgerExportView> {
    this.lastExportAt = new Date().toISOString();
    return { file, borrows: this.records.size, keys: this.keyMap.size };
  }

  async importLedger(file: string): Promise<LedgerExportView> {
    return { file, borrows: this.records.size, keys: this.keyMap.size };
  }

  async exportLedgerText(): Promise<{ text: string; summary: LedgerExportView }> {
    this.lastExportAt = new Date().toISOString();
    const text = `${JSON.stringify({ format: "keybridge-ledger-export", version: 1, borrows: [...this.records.values()] })}\n`;
    return { text, summary: { file: "", borrows: this.records.size, keys: this.keyMap.size } };
  }

  async importLedgerText(text: string, options: { force?: boolean } = {}): Promise<LedgerExportView> {
    let parsed: { format?: unknown; borrows?: FakeBorrow[] };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      fail("LEDGER_EXPORT_CORRUPT", "the export text is not a keybridge ledger export");
    }
    if (parsed.format !== "keybridge-ledger-export" || !Array.isArray(parsed.borrows)) {
      fail("LEDGER_EXPORT_CORRUPT", "the export text is not a keybridge ledger export");
    }
    if (this.records.size > 0 && options.force !== true) {
      fail("LEDGER_IMPORT_CONFLICT", "this ledger already holds borrows; import with force to merge");
    }
    for (const record of parsed.borrows) {
      this.records.set(record.id, record);
      this.nextId = Math.max(this.nextId, record.id + 1);
    }
    return { file: "", borrows: parsed.borrows.length, keys: this.keyMap.size };
  }

  risks(): RiskView[] {
    return [...this.openRisks.values()];
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    await this.keyLock;
    this.bus.complete();
    this.keyExchanges$.complete();
    this.risks$.complete();
  }

  /** Adds borrows straight to the records, as if issued earlier (for big lists). */
  seedBorrows(count: number, product = 1001, serial = "KB-0001"): void {
    const now = this.now();
    for (let i = 0; i < count; i++) {
      const id = this.nextId++;
      this.records.set(id, {
        id,
        serial,
        product,
        client: `ws-${i}`,
        issuedAt: now,
        expiresAt: now + 30 * DAY,
        state: "active",
      });
    }
  }

  private virtualControls(): VirtualControls {
    const viewOf = (key: FakeKey): VirtualKeyView => ({
      serial: key.serial,
      plugged: key.plugged,
      keyTime: new Date(this.now()).toISOString(),
      licenses: key.licenses,
    });
    const find = (serial: string): FakeKey => {
      const key = this.keyMap.get(serial);
      if (key === undefined) fail("VIRTUAL_KEY_NOT_FOUND", `no virtual key with serial ${serial}`, { serial });
      return key;
    };
    return {
      keys: async () => [...this.keyMap.values()].map(viewOf),
      create: async (input) => {
        const serial = input.serial ?? `KB-${String(this.keyMap.size + 1).padStart(4, "0")}`;
        if (this.keyMap.has(serial)) fail("VIRTUAL_KEY_EXISTS", `a virtual key ${serial} exists already`);
        const key: FakeKey = { serial, plugged: true, licenseSetVersion: 1, licenses: input.licenses ?? DEMO_LICENSES };
        this.keyMap.set(serial, key);
        this.emit({ type: "key.attached", serial, message: `key ${serial} attached` });
        return viewOf(key);
      },
      plug: async (serial) => {
        const key = find(serial);
        key.plugged = true;
        this.emit({ type: "key.attached", serial, message: `key ${serial} attached` });
        this.clearRisk(`key-unplugged/${serial}`);
        return viewOf(key);
      },
      unplug: async (serial) => {
        const key = find(serial);
        key.plugged = false;
        this.emit({ type: "key.detached", serial, message: `key ${serial} detached` });
        const out = [...this.records.values()].filter((r) => r.serial === serial && r.state === "active");
        if (out.length > 0) {
          this.raiseRisk(`key-unplugged/${serial}`, {
            kind: "key-unplugged",
            source: "keybridge",
            severity: "critical",
            message: `Key ${serial} was unplugged while ${out.length} borrow(s) are out.`,
            advice: "Plug the key back into this computer before the borrows are returned or expire.",
            since: new Date(this.now()).toISOString(),
            serial,
            borrowIds: out.map((r) => r.id),
          });
        }
        return viewOf(key);
      },
      advanceClock: async (ms) => {
        this.clockOffset += ms;
        this.tick();
        return { keyTime: new Date(this.now()).toISOString() };
      },
      setHost: async (input) => {
        this.host = {
          ips: input.ip === undefined ? this.host.ips : [input.ip],
          hostname: input.hostname ?? this.host.hostname,
          machineId: input.machineId ?? this.host.machineId,
        };
        this.emit({ type: "host.changed", message: "host identity changed" });
        return this.host;
      },
      wipeRegistry: async () => {
        this.emit({ type: "registry.repaired", message: "registry restored from the ledger" });
      },
    };
  }

  private async withKey<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) fail("BRIDGE_CLOSED", "the bridge is closed");
    this.maybeFail();
    if (this.waiting >= this.queueLimit) fail("TRANSPORT_QUEUE_FULL", "too many callers waiting for the key");
    this.waiting++;
    const previous = this.keyLock;
    let release!: () => void;
    this.keyLock = new Promise((resolve) => {
      release = resolve;
    });
    try {
      await previous;
      await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      return await operation();
    } finally {
      this.waiting--;
      release();
    }
  }

  private maybeFail(): void {
    const error = this.injectedErrors.shift();
    if (error !== undefined) throw error;
  }

  private tick(): void {
    const now = this.now();
    for (const record of [...this.records.values()]) {
      if (record.state === "active" && record.expiresAt <= now) {
        this.records.delete(record.id);
        this.emit({
          type: "borrow.settled",
          serial: record.serial,
          borrow: this.view(record),
          message: "settled at expiry",
        });
      } else if (record.state === "dummy" && (record.dummyUntil ?? 0) <= now) {
        this.records.delete(record.id);
      }
    }
  }

  private keyHolding(product: number): FakeKey | undefined {
    return [...this.keyMap.values()].find((key) => key.licenses.some((l) => l.product === product));
  }

  private count(serial: string, product: number, state: "active" | "dummy"): number {
    let n = 0;
    for (const r of this.records.values()) if (r.serial === serial && r.product === product && r.state === state) n++;
    return n;
  }

  private view(record: FakeBorrow): BorrowView {
    const view: BorrowView = {
      source: "keybridge",
      id: record.id,
      serial: record.serial,
      product: record.product,
      client: record.client,
      issuedAt: new Date(record.issuedAt).toISOString(),
      expiresAt: new Date(record.expiresAt).toISOString(),
      state: record.state,
    };
    if (record.dummyUntil !== undefined) view.dummyUntil = new Date(record.dummyUntil).toISOString();
    return view;
  }

  private dummyViews(): DummyView[] {
    return [...this.records.values()]
      .filter((r) => r.state === "dummy")
      .map((r) => ({
        serial: r.serial,
        product: r.product,
        borrowId: r.id,
        dummyUntil: r.dummyUntil === undefined ? null : new Date(r.dummyUntil).toISOString(),
        blocksProduct: true,
      }));
  }

  private raiseRisk(id: string, risk: RiskView): void {
    this.openRisks.set(id, risk);
    this.risks$.next(this.risks());
    this.emit({ type: "risk.raised", serial: risk.serial, risk, message: risk.message });
  }

  private clearRisk(id: string): void {
    const risk = this.openRisks.get(id);
    if (risk === undefined) return;
    this.openRisks.delete(id);
    this.risks$.next(this.risks());
    this.emit({ type: "risk.cleared", serial: risk.serial, risk, message: `${risk.kind} cleared` });
  }

  /** Through the bridge's own bus, so sequence numbers and the kept history behave as in the daemon. */
  private emit(event: Omit<BridgeEvent, "at" | "seq">): void {
    const { type, message, ...extra } = event;
    this.bus.emit(type, message, extra);
  }

  async maintenance(): Promise<MaintenanceView> {
    this.tick();
    return this.planner.view((await this.borrows()).filter((b) => b.state !== "dummy"));
  }

  async planMaintenance(input: MaintenanceInput): Promise<MaintenanceView> {
    await this.planner.set(input);
    return this.maintenance();
  }

  async cancelMaintenance(): Promise<MaintenanceView> {
    const cancelled = await this.planner.cancel();
    return { ...(await this.maintenance()), cancelled };
  }

  async audit(query: AuditQueryInput = {}): Promise<AuditEntryView[]> {
    const limit = query.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      fail("VALIDATION", `limit must be an integer from 1 to 1000, got ${limit}`, { field: "limit" });
    }
    const since = query.since === undefined ? undefined : Date.parse(query.since);
    return this.auditTrail
      .filter(
        (entry) =>
          (query.kind === undefined || entry.kind === query.kind) &&
          (query.serial === undefined || entry.serial === query.serial) &&
          (query.before === undefined || entry.id < query.before) &&
          (since === undefined || Date.parse(entry.at) >= since),
      )
      .reverse()
      .slice(0, limit);
  }

  recentEvents(options: { after?: number; limit?: number } = {}): EventHistoryView {
    return this.bus.history(options);
  }
}

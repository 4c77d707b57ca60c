import { randomBytes } from "node:crypto";
import type { BorrowRow, Ledger } from "../ledger/index.js";
import { layerLogger } from "../log.js";
import {
  historyNeeded,
  type KeyBorrow,
  type LedgerBorrow,
  type PreflightAction,
  planRepairs,
  preflight,
  preflightStateFrom,
  type ReconcileInput,
  type KeyView as ReconcileKeyView,
  type ReconcileReport,
  type RegistryView,
  type RepairStep,
  reconcile,
} from "../reconcile/index.js";
import type { ParsedEntry } from "../registry/index.js";
import { borrowKey, DEFAULT_SETTLE_WINDOW_MS } from "../vocabulary/index.js";
import type { FindingView, PreflightView, ReconcileView, RepairResultView } from "./api.js";
import type { BorrowIndex } from "./borrow-index.js";
import type { BorrowService } from "./borrow-service.js";
import { BindingMismatchError, TagUnknownError } from "./errors.js";
import type { EventBus } from "./event-bus.js";
import type { InFlight } from "./in-flight.js";
import type { DummyRecorder } from "./key-dummies.js";
import type { KeyManager } from "./key-manager.js";
import type { Mirror } from "./mirror.js";
import { isTagUnknown } from "./tag-unknown.js";

const log = layerLogger("bridge");

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const iso = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(ms).toISOString());

interface Gathered {
  input: ReconcileInput;
  registryEntries: ParsedEntry[];
}

/** What reconcile, preflight and repair read, and what repair writes. */
export interface ReconcileInputs {
  readonly ledger: Pick<
    Ledger,
    "audit" | "commit" | "deriveTag" | "getBorrow" | "getMeta" | "listKeys" | "listOutstanding"
  >;
  readonly index: Pick<BorrowIndex, "get" | "put" | "rows">;
  readonly keys: Pick<KeyManager, "absentKnownSerials" | "allSessions" | "call" | "session">;
  readonly mirror: Pick<Mirror, "flush" | "markDirty" | "read" | "restoreAll">;
  readonly events: Pick<EventBus, "emit">;
  readonly operations: Pick<InFlight, "run" | "size">;
  readonly dummies: Pick<DummyRecorder, "record">;
  readonly borrows: Pick<BorrowService, "servingSession" | "settle">;
  /** The current host binding, lower-case hex. */
  binding(): string;
}

/** Maps the key, registry, ledger and host views into the pure reconciler, and applies its safe repairs. */
export class ReconcileService {
  constructor(private readonly inputs: ReconcileInputs) {}

  async gather(): Promise<Gathered> {
    const { keys, ledger, mirror } = this.inputs;
    // Entries still within the mirror lag are not drift: write them before comparing.
    await mirror
      .flush()
      .catch((error: unknown) => log.warn("mirror flush before reconcile failed", { error: String(error) }));
    const views: ReconcileKeyView[] = [];
    for (const session of keys.allSessions()) {
      if (!session.serving) {
        views.push({ serial: session.serial, present: false, settleWindowMs: session.settleWindowMs });
        continue;
      }
      const records = await keys.call(session, (client) => client.listAllBorrows());
      // A dummy the key shows and the ledger does not is written at once (the report then agrees).
      await this.inputs.dummies
        .record(session, records, { cause: "the key's listing for reconcile" })
        .catch((error: unknown) =>
          log.warn("could not record the key's dummies in the ledger; the report shows them as found", {
            serial: session.serial,
            error: String(error),
          }),
        );
      const borrows: KeyBorrow[] = records.map((r) => ({
        id: r.id,
        product: r.product,
        client: r.client,
        issuedAt: r.issuedAt,
        expiresAt: r.expiresAt,
        binding: hex(r.binding),
        opId: hex(r.opId),
        state: r.state,
        dummyUntil: r.dummyUntil ?? null,
      }));
      views.push({
        serial: session.serial,
        present: true,
        borrows,
        licenses: session.licenses.map(({ product, seats, borrowable, borrowDays }) => ({
          product,
          seats,
          borrowable,
          borrowDays,
        })),
        keyTimeMs: session.keyNow(),
        settleWindowMs: session.settleWindowMs,
      });
    }
    for (const serial of keys.absentKnownSerials()) {
      views.push({ serial, present: false, settleWindowMs: DEFAULT_SETTLE_WINDOW_MS });
    }
    const read = await mirror.read();
    // The registry lists keys in the order they were first written; in serial order, reconcile
    // merges the three views in one pass instead of indexing them (docs/reconcile.md).
    const registry = read.view.readable
      ? { ...read, view: { ...read.view, borrows: inSerialOrder(read.view.borrows) } }
      : read;
    const ledgerRows = this.ledgerRowsFor(views, registry.view);
    const keyLastBinding: Record<string, string> = {};
    for (const key of ledger.listKeys()) if (key.lastBinding !== null) keyLastBinding[key.serial] = key.lastBinding;
    return {
      input: {
        keys: views,
        registry: registry.view,
        ledger: ledgerRows,
        host: { binding: this.inputs.binding(), keyLastBinding },
        now: Date.now(),
        tagDerivable: true,
      },
      registryEntries: registry.entries,
    };
  }

  /**
   * Every outstanding row, and of the closed ones (years of history on a busy server) only those a
   * key or the registry still names: the others cannot change the report (a property test in
   * test/unit/reconcile checks that), and reading them all cost most of a reconcile's time.
   * In serial, id order, as reconcile's one-pass merge wants them.
   */
  private ledgerRowsFor(views: readonly ReconcileKeyView[], registry: RegistryView): LedgerBorrow[] {
    const { ledger } = this.inputs;
    const rows = ledger.listOutstanding();
    const outstanding = new Set(rows.map((row) => borrowKey(row.serial, row.id)));
    for (const [serial, ids] of historyNeeded(views, registry)) {
      for (const id of ids) {
        if (outstanding.has(borrowKey(serial, id))) continue;
        const closed = ledger.getBorrow(serial, id);
        if (closed !== undefined) rows.push(closed);
      }
    }
    rows.sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.id - b.id));
    return rows.map(toLedgerBorrow);
  }

  async reconcile(): Promise<ReconcileView> {
    const { input } = await this.gather();
    const view = toReconcileView(reconcile(input));
    view.findings.push(...this.unknownTagFindings());
    return view;
  }

  /** Borrows whose tag was lost with the ledger and the registry: no repair exists, only the expiry. */
  private unknownTagFindings(): FindingView[] {
    const findings: FindingView[] = [];
    for (const row of this.inputs.index.rows()) {
      if (!isTagUnknown(row) || row.state === "dummy") continue;
      const session = this.inputs.keys.session(row.serial);
      const refusal = new TagUnknownError(row.serial, row.id, session && row.expiresAt + session.settleWindowMs);
      findings.push({
        kind: "tag-unknown",
        severity: "critical",
        message: `Borrow ${row.id} on key ${row.serial} (product ${row.product}, client "${row.client}"): ${refusal.message}.`,
        repair: {
          action: "none",
          safe: false,
          description:
            "Import the old ledger's export (keybridge ledger import FILE) or restore a backup of the data " +
            "directory; otherwise leave the borrow alone and expect the product to be blocked for one borrow " +
            "period after it expires.",
        },
        borrowId: row.id,
        serial: row.serial,
        product: row.product,
        client: row.client,
      });
    }
    return findings;
  }

  async preflight(action: PreflightAction): Promise<PreflightView> {
    const { input } = await this.gather();
    const report = reconcile(input);
    const exported = this.inputs.ledger.getMeta("last_export_at");
    const state = preflightStateFrom(input, report, {
      inFlightOperations: this.inputs.operations.size,
      ledgerExportedAt: exported === undefined ? null : Number(exported),
    });
    const verdict = preflight(action, state);
    return {
      action: verdict.action,
      safe: verdict.safe,
      reasons: verdict.reasons,
      advice: [...verdict.advice, ...verdict.info],
      borrows: verdict.borrows.map((b) => ({
        source: "keybridge" as const,
        serial: b.serial,
        id: b.id,
        product: b.product,
        client: b.client,
        expiresAt: new Date(b.expiresAt).toISOString(),
      })),
      lastEndsAt:
        verdict.borrows.length === 0
          ? null
          : new Date(Math.max(...verdict.borrows.map((b) => b.expiresAt))).toISOString(),
    };
  }

  /** Applies only the plan's safe steps (none can create a dummy or free a held seat). */
  async repair(): Promise<RepairResultView> {
    const gathered = await this.gather();
    const plan = planRepairs(reconcile(gathered.input));
    const applied: RepairResultView["applied"] = [];
    for (const step of plan.steps) {
      try {
        const message = await this.apply(step, gathered);
        applied.push({ ...stepRef(step), outcome: "done", message });
      } catch (error) {
        log.warn("repair step failed", { action: step.action, error: String(error) });
        applied.push({ ...stepRef(step), outcome: "failed", message: String(error) });
      }
    }
    await this.inputs.mirror.flush();
    if (applied.length > 0) {
      const message = `reconcile repair applied ${applied.filter((a) => a.outcome === "done").length} of ${applied.length} step(s)`;
      this.inputs.ledger.audit({ kind: "repair", message, details: { applied } });
      this.inputs.events.emit("reconcile.repaired", message, { details: { applied: applied.length } });
    }
    return { applied, after: await this.reconcile() };
  }

  private async apply(step: RepairStep, gathered: Gathered): Promise<string> {
    const { ledger, index, mirror } = this.inputs;
    const serial = step.serial;
    const id = step.borrowId;
    switch (step.action) {
      case "restore-registry":
        if (serial === undefined || id === undefined) {
          await mirror.restoreAll("reconcile repair");
          return "registry rewritten from the ledger";
        }
        mirror.markDirty(serial, id);
        return `registry entry ${serial}/${id} rewritten from the ledger`;
      case "remove-registry-entry":
        if (serial === undefined || id === undefined) return "nothing to remove";
        mirror.markDirty(serial, id);
        return `registry entry ${serial}/${id} removed`;
      case "mark-ledger-settled": {
        if (serial === undefined || id === undefined) return "nothing to mark";
        const row = await ledger.commit((tx) => {
          const next = tx.updateBorrowState(serial, id, { state: "settled" });
          tx.audit({ kind: "repair", serial, borrowId: id, message: `ledger row ${serial}/${id} marked settled` });
          return next;
        });
        index.put(row);
        mirror.markDirty(serial, id);
        return `ledger row ${serial}/${id} marked settled`;
      }
      case "rebuild-ledger": {
        if (serial === undefined || id === undefined) return "nothing to rebuild";
        const keyView = gathered.input.keys.find((view) => view.serial === serial && view.borrows !== undefined);
        const record = keyView?.borrows?.find((b) => b.id === id);
        if (record === undefined) throw new Error(`key ${serial} no longer holds borrow ${id}`);
        const entry = gathered.registryEntries.find((e) => e.borrow.serial === serial && e.borrow.id === id);
        const tag = entry?.borrow.tag ?? ledger.deriveTag(record.opId).toString("hex");
        const now = Date.now();
        const row = await ledger.commit((tx) => {
          const next = tx.upsertBorrow({
            serial,
            id,
            opId: record.opId,
            product: record.product,
            client: record.client,
            issuedAt: record.issuedAt,
            expiresAt: record.expiresAt,
            binding: record.binding,
            tag,
            state: record.state,
            dummyUntil: record.dummyUntil ?? null,
            settleOpId: null,
            createdAt: now,
            updatedAt: now,
          });
          tx.audit({
            kind: "repair",
            serial,
            borrowId: id,
            message: `ledger row ${serial}/${id} rebuilt from the key (tag from the ${entry === undefined ? "opId" : "registry"})`,
          });
          return next;
        });
        index.put(row);
        mirror.markDirty(serial, id);
        return `ledger row ${serial}/${id} rebuilt`;
      }
      case "settle-now": {
        if (serial === undefined || id === undefined) return "nothing to settle";
        const row = index.get(serial, id);
        if (row === undefined || row.state !== "active") return `borrow ${serial}/${id} is no longer active`;
        if (row.binding !== this.inputs.binding()) throw new BindingMismatchError(serial, id);
        const session = this.inputs.borrows.servingSession(serial);
        const done = await this.inputs.operations.run(() => this.inputs.borrows.settle(session, row, "settle-expired"));
        return `borrow ${serial}/${id} settled (${done.state})`;
      }
      case "migrate":
        return "migration is not applied by repair; run keybridge migrate";
    }
  }
}

function stepRef(step: RepairStep): { kind: string; action: string; borrowId?: number; serial?: string } {
  const ref: { kind: string; action: string; borrowId?: number; serial?: string } = {
    kind: step.kind,
    action: step.action,
  };
  if (step.borrowId !== undefined) ref.borrowId = step.borrowId;
  if (step.serial !== undefined) ref.serial = step.serial;
  return ref;
}

export function toLedgerBorrow(row: BorrowRow): LedgerBorrow {
  return {
    serial: row.serial,
    id: row.id,
    opId: row.opId,
    product: row.product,
    client: row.client,
    issuedAt: row.issuedAt,
    expiresAt: row.expiresAt,
    binding: row.binding,
    tag: row.tag,
    state: row.state,
    dummyUntil: row.dummyUntil,
  };
}

export function toReconcileView(report: ReconcileReport): ReconcileView {
  const findings: FindingView[] = [];
  for (const f of report.findings) {
    if (f.kind === "healthy") continue;
    const view: FindingView = {
      kind: f.kind,
      severity: f.severity,
      message: f.message,
      repair: { action: f.repair.action, safe: f.repair.safe, description: f.repair.description },
    };
    if (f.borrowId !== undefined) view.borrowId = f.borrowId;
    if (f.serial !== undefined) view.serial = f.serial;
    if (f.product !== undefined) view.product = f.product;
    if (f.client !== undefined) view.client = f.client;
    findings.push(view);
  }
  return {
    findings,
    dummies: report.dummies.map((d) => ({
      serial: d.serial,
      product: d.product,
      borrowId: d.borrowId,
      dummyUntil: iso(d.dummyUntil),
      blocksProduct: d.dummyUntil === null || d.dummyUntil > report.now,
    })),
    blockedProducts: report.blockedProducts.map((b) => ({ serial: b.serial, product: b.product, until: iso(b.until) })),
    counts: { ...report.counts },
  };
}

/** A fresh 16-byte opId as hex. */
export function newOpId(): string {
  return randomBytes(16).toString("hex");
}

/** The same records ordered by serial, then id; the array itself when it already is (the usual case). */
function inSerialOrder<T extends { serial: string; id: number }>(records: T[]): T[] {
  const before = (a: T, b: T) => (a.serial === b.serial ? a.id - b.id : a.serial < b.serial ? -1 : 1);
  for (let i = 1; i < records.length; i++) {
    if (before(records[i - 1] as T, records[i] as T) > 0) return [...records].sort(before);
  }
  return records;
}

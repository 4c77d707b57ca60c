import { layerLogger } from "../log.js";
import { isPreflightAction } from "../reconcile/index.js";
import { DAY_MS } from "../vocabulary/index.js";
import type { BorrowView, MaintenanceInput, MaintenancePlanView, MaintenanceView, PreflightAction } from "./api.js";
import { InvalidRequestError, MaintenancePlannedError } from "./errors.js";
import type { EventBus } from "./event-bus.js";

const log = layerLogger("bridge");

const META_KEY = "maintenance_plan";
const MAX_NOTE = 200;

interface Plan {
  at: number;
  until: number | null;
  action: PreflightAction | null;
  note: string | null;
  plannedAt: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function viewOf(plan: Plan): MaintenancePlanView {
  return {
    at: iso(plan.at),
    until: plan.until === null ? null : iso(plan.until),
    action: plan.action,
    note: plan.note,
    plannedAt: iso(plan.plannedAt),
  };
}

function parseTime(field: string, value: unknown): number {
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new InvalidRequestError(field, `${field} must be an ISO 8601 time, got ${JSON.stringify(value)}`);
  return ms;
}

/**
 * A planned maintenance window — "do it only after all licenses are returned", the advice for every
 * action that endangers borrows, made a plan: before `at`, every new borrow ends by `at` (a default period is shortened, a longer
 * explicit one refused); from `at` until `until` (or until cancelled), nothing is borrowed. Kept in
 * the ledger, so a restart keeps it.
 */
/** What the planner needs of the ledger: its meta table and audit trail, written in one commit. */
export interface MaintenanceStore {
  getMeta(key: string): string | undefined;
  commit<T>(work: (tx: MaintenanceTx) => T): Promise<T>;
}

export interface MaintenanceTx {
  setMeta(key: string, value: string): void;
  audit(entry: { kind: string; message: string; details?: Record<string, unknown> }): number;
}

export class MaintenancePlanner {
  private plan: Plan | undefined;

  constructor(
    private readonly ctx: { ledger: MaintenanceStore; events: Pick<EventBus, "emit"> },
    private readonly now: () => number = Date.now,
  ) {
    this.plan = this.load();
  }

  /** The plan in epoch ms, for the risk engine. */
  window(): { at: number; until: number | null; action: string | null } | null {
    const plan = this.plan;
    return plan === undefined ? null : { at: plan.at, until: plan.until, action: plan.action };
  }

  current(): MaintenancePlanView | null {
    return this.plan === undefined ? null : viewOf(this.plan);
  }

  /**
   * The borrow period allowed now: `requested` days (undefined: the license's `licenseDays`),
   * shortened to end by the window's start when the license default was asked for, refused when
   * the caller asked for more explicitly or when no whole day is left. `keyNow` is the key's clock,
   * which sets the borrow's expiry.
   */
  allowedDays(requested: number | undefined, licenseDays: number, keyNow: number): number {
    const plan = this.plan;
    const days = requested ?? licenseDays;
    if (plan === undefined || this.phaseOf(plan) === "over") return days;
    const until = plan.until === null ? "it is cancelled" : iso(plan.until);
    if (this.now() >= plan.at) {
      throw new MaintenancePlannedError(
        `borrowing is closed during the maintenance that started ${iso(plan.at)}; it opens again when ${until}` +
          (plan.until === null ? " (keybridge maintenance cancel)" : ""),
        { at: iso(plan.at), until: plan.until === null ? null : iso(plan.until) },
      );
    }
    const left = Math.floor((plan.at - keyNow) / DAY_MS);
    if (left < 1) {
      throw new MaintenancePlannedError(
        `no borrow may be made now: the maintenance at ${iso(plan.at)} is less than a day away, and every borrow must end before it`,
        { at: iso(plan.at), maxDays: 0 },
      );
    }
    if (days <= left) return days;
    if (requested !== undefined) {
      throw new MaintenancePlannedError(
        `a borrow of ${requested} days would outlast the maintenance at ${iso(plan.at)}; at most ${left} days are possible now`,
        { at: iso(plan.at), maxDays: left },
      );
    }
    return left;
  }

  view(outstanding: readonly BorrowView[]): MaintenanceView {
    const plan = this.plan;
    if (plan === undefined) {
      return { plan: null, phase: "none", borrowsEndingAfter: [], clear: true, summary: "No maintenance is planned." };
    }
    const phase = this.phaseOf(plan);
    const after = outstanding.filter((borrow) => borrow.state === "active" && Date.parse(borrow.expiresAt) > plan.at);
    const what = plan.action === null ? "the maintenance" : `the maintenance (${plan.action})`;
    let summary: string;
    if (phase === "over") summary = `${what} window ended ${iso(plan.until ?? plan.at)}; borrowing is normal again.`;
    else if (after.length === 0) {
      summary =
        phase === "during"
          ? `${what} is under way and no borrow is out past its start: go ahead. Borrowing is closed until ${plan.until === null ? "the plan is cancelled" : iso(plan.until)}.`
          : `No borrow ends after ${iso(plan.at)}: ${what} can go ahead then. New borrows end by then.`;
    } else {
      summary =
        `${after.length} borrow${after.length === 1 ? " ends" : "s end"} after ${iso(plan.at)}: ask for ${after.length === 1 ? "it" : "them"} ` +
        `back before ${what} (${after.map((borrow) => `${borrow.id} ${borrow.client}`).join(", ")}). New borrows end by then.`;
    }
    return { plan: viewOf(plan), phase, borrowsEndingAfter: after, clear: after.length === 0, summary };
  }

  async set(input: MaintenanceInput): Promise<MaintenancePlanView> {
    const now = this.now();
    const at = parseTime("at", input.at);
    if (at <= now) {
      throw new InvalidRequestError("at", `the maintenance must start in the future; ${iso(at)} has passed (at)`);
    }
    const until = input.until === undefined ? null : parseTime("until", input.until);
    if (until !== null && until <= at) {
      throw new InvalidRequestError(
        "until",
        `the maintenance must end after it starts; ${iso(until)} is not after ${iso(at)} (until)`,
      );
    }
    if (input.action !== undefined && !isPreflightAction(input.action)) {
      throw new InvalidRequestError("action", `action ${JSON.stringify(input.action)} is not a preflight action`);
    }
    const note = input.note?.trim() ?? "";
    if (note.length > MAX_NOTE) throw new InvalidRequestError("note", `note is longer than ${MAX_NOTE} characters`);
    const plan: Plan = { at, until, action: input.action ?? null, note: note === "" ? null : note, plannedAt: now };
    const view = viewOf(plan);
    await this.ctx.ledger.commit((tx) => {
      tx.setMeta(META_KEY, JSON.stringify(plan));
      tx.audit({
        kind: "maintenance-planned",
        message: `maintenance planned for ${view.at}${view.until === null ? "" : ` until ${view.until}`}${view.action === null ? "" : ` (${view.action})`}: borrows end before it`,
        details: { ...view },
      });
    });
    this.plan = plan;
    this.ctx.events.emit("maintenance.planned", `maintenance planned for ${view.at}: new borrows end before it`, {
      details: { ...view },
    });
    return view;
  }

  async cancel(): Promise<MaintenancePlanView | null> {
    const plan = this.plan;
    if (plan === undefined) return null;
    const view = viewOf(plan);
    await this.ctx.ledger.commit((tx) => {
      tx.setMeta(META_KEY, "");
      tx.audit({
        kind: "maintenance-cancelled",
        message: `maintenance plan for ${view.at} ended; borrowing is normal again`,
        details: { ...view },
      });
    });
    this.plan = undefined;
    this.ctx.events.emit("maintenance.cancelled", `maintenance plan for ${view.at} ended: borrowing is normal again`, {
      details: { ...view },
    });
    return view;
  }

  private phaseOf(plan: Plan): MaintenanceView["phase"] {
    const now = this.now();
    if (plan.until !== null && now >= plan.until) return "over";
    return now >= plan.at ? "during" : "before";
  }

  private load(): Plan | undefined {
    const text = this.ctx.ledger.getMeta(META_KEY);
    if (text === undefined || text === "") return undefined;
    let parsed: Partial<Plan> | undefined;
    try {
      parsed = JSON.parse(text) as Partial<Plan>;
    } catch {
      parsed = undefined;
    }
    const valid =
      parsed !== undefined &&
      typeof parsed.at === "number" &&
      typeof parsed.plannedAt === "number" &&
      (parsed.until === null || typeof parsed.until === "number") &&
      (parsed.action === null || isPreflightAction(parsed.action)) &&
      (parsed.note === null || typeof parsed.note === "string");
    if (!valid) {
      // Written only by this class; unreadable means a newer or damaged value. The daemon must
      // still start: without a plan borrowing is normal, and the log says to plan again.
      log.error("the maintenance plan kept in the ledger cannot be read; it is ignored — plan it again", {
        value: text.slice(0, 200),
      });
      return undefined;
    }
    return parsed as Plan;
  }
}

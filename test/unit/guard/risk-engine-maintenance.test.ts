import { Subject } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import type { BridgeEvent, BridgeEventType } from "../../../src/bridge/api.js";
import { RiskEngine } from "../../../src/bridge/guard/index.js";
import type { MaintenanceWindow } from "../../../src/bridge/guard/risk-engine.js";
import type { BorrowRow } from "../../../src/ledger/index.js";
import { borrowRow, DAY, HERE, T0 } from "./rows.js";

const HOUR = 3_600_000;
const row = (id: number, expiresAt: number) => borrowRow(id, { expiresAt });

const engines: RiskEngine[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});

/** An engine over borrows, a plan and a clock the test sets. */
function world(rows: BorrowRow[], plan: MaintenanceWindow | null) {
  const state = { now: T0, plan, rows };
  const events$ = new Subject<BridgeEvent>();
  const emitted: BridgeEvent[] = [];
  const engine = new RiskEngine(
    {
      events$,
      outstanding: () => state.rows,
      currentBinding: () => HERE,
      isPresent: () => true,
      keyNow: () => state.now,
      settleWindowMs: () => DAY,
      ledgerExportedAt: () => null,
      maintenance: () => state.plan,
      emit: (type: BridgeEventType, message, extra) =>
        emitted.push({ type, message, at: new Date(state.now).toISOString(), ...extra }),
    },
    { pollMs: 60_000, now: () => state.now },
  );
  engines.push(engine);
  engine.start();
  const kinds = () => engine.risks().map((risk) => risk.kind);
  return { state, engine, events$, emitted, kinds };
}

describe("the maintenance-blocked risk", () => {
  it("is raised within 48 h of the window for the active borrows that end after its start, and names them", () => {
    const plan = { at: T0 + 3 * DAY, until: null, action: "reinstall-os" };
    const w = world([row(1, T0 + 2 * DAY), row(2, T0 + 20 * DAY)], plan);
    expect(w.kinds()).toEqual([]);
    w.state.now = plan.at - 47 * HOUR;
    w.engine.evaluate();
    const [risk] = w.engine.risks();
    expect(risk).toMatchObject({ kind: "maintenance-blocked", severity: "warning", borrowIds: [2] });
    expect(risk?.message).toMatch(
      /^The maintenance \(reinstall-os\) planned for .* would turn 1 borrow into borrow dummies: .*ws-2/,
    );
    expect(risk?.advice).toMatch(/Ask for it back before .*, or move the window past /);
    expect(w.emitted.map((event) => event.type)).toEqual(["risk.raised"]);
  });

  it("clears when the last borrow in the way is returned, the plan is cancelled, or its end passes", () => {
    const plan = { at: T0 + DAY, until: T0 + 2 * DAY, action: null };
    const returned = world([row(1, T0 + 10 * DAY)], plan);
    expect(returned.kinds()).toEqual(["maintenance-blocked"]);
    returned.state.rows = [];
    returned.events$.next({ type: "borrow.returned", at: "", message: "returned", serial: "KB-1" });
    expect(returned.kinds()).toEqual([]);

    const cancelled = world([row(1, T0 + 10 * DAY)], plan);
    cancelled.state.plan = null;
    cancelled.events$.next({ type: "maintenance.cancelled", at: "", message: "cancelled" });
    expect(cancelled.kinds()).toEqual([]);

    const over = world([row(1, T0 + 10 * DAY)], plan);
    over.state.now = T0 + 1.5 * DAY;
    over.engine.evaluate();
    expect(over.engine.risks()[0]?.message).toMatch(/that started /);
    over.state.now = T0 + 2 * DAY;
    over.engine.evaluate();
    expect(over.kinds()).toEqual([]);
  });

  it("is not raised by borrows that end before the start, nor without a plan", () => {
    expect(world([row(1, T0 + 0.5 * DAY)], { at: T0 + DAY, until: null, action: null }).kinds()).toEqual([]);
    expect(world([row(1, T0 + 10 * DAY)], null).kinds()).toEqual([]);
  });
});

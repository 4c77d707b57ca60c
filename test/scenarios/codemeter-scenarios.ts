import { BehaviorSubject } from "rxjs";
import type { SimulatedCodeMeterServer } from "../../native-mocks/codemeter-sim/index.js";
import type { CodeMeterPreflight } from "../../src/codemeter/model/preflight.js";
import type { CodeMeterRiskKind, MaintenanceWindow } from "../../src/codemeter/model/risks.js";
import { PREFLIGHT_ACTIONS, type PreflightAction } from "../../src/reconcile/index.js";
import { simWorld, watchedWorld } from "../unit/codemeter/helpers.js";

/**
 * The forbidden actions on a SYNTHETIC simulated CodeMeter server (native-mocks/codemeter-sim)
 * with three borrows out, run three ways: with nothing watching (the dummies CodeMeter makes),
 * with the CodeMeter watch (its preflight before the action, its risk after it, before any
 * dummy exists), and with the admin heeding the preflight (waiting until the last borrow ends).
 */

const DAY = 86_400_000;

export interface CodeMeterScenario {
  readonly title: string;
  /** The risk the watch must raise before the harm. */
  readonly risk: CodeMeterRiskKind;
  /** Does the forbidden thing. */
  act(sim: SimulatedCodeMeterServer, plan: (window: MaintenanceWindow | null) => void): void;
  /** How an admin who heeded the preflight does it, when that differs (a quiet moment). */
  heededAct?(sim: SimulatedCodeMeterServer): void;
}

export const CODEMETER_SCENARIOS: Record<PreflightAction, CodeMeterScenario> = {
  "upgrade-licenses": {
    title: "re-program (upgrade) the licenses on the stick while borrowed",
    risk: "maintenance-blocked",
    act(sim, plan) {
      // The admin plans the upgrade for the next day, then does it then.
      plan({ at: sim.now() + DAY, until: null, action: "upgrade-licenses" });
      sim.advance(DAY);
      sim.upgradeLicenses();
    },
  },
  "install-major-version": {
    title: "install a new main version of the runtime",
    risk: "driver-changed",
    act(sim) {
      sim.upgradeRuntime("9.10");
    },
  },
  "unplug-key": {
    title: "unplug the server's CmStick over the returns",
    risk: "key-unplugged",
    act(sim) {
      sim.unplugStick();
    },
  },
  "move-key": {
    title: "move the CmStick to another computer (another stick here instead)",
    risk: "key-moved",
    act(sim) {
      sim.moveStickAway();
    },
  },
  "uninstall-driver": {
    title: "uninstall the runtime, then install it again",
    risk: "driver-removed",
    act(sim) {
      sim.uninstallRuntime();
    },
  },
  "reinstall-os": {
    title: "reinstall the operating system (new machine id, fresh runtime)",
    risk: "host-machine-id-changed",
    act(sim) {
      sim.reinstallOs();
    },
  },
  "change-ip": {
    title: "change the server's IP address",
    risk: "host-ip-changed",
    act(sim) {
      sim.setHost({ ips: ["10.0.0.99"] });
    },
  },
  "restart-service": {
    title: "restart the CodeMeter service while a client borrows",
    risk: "service-stopped",
    act(sim) {
      sim.restartService({ midBorrow: { client: "ws-4", user: "dora", productCode: 1003 } });
    },
    heededAct(sim) {
      // With nothing borrowed, the admin restarts at a quiet moment: no client is borrowing.
      sim.restartService();
    },
  },
  "change-hostname": {
    title: "rename the server",
    risk: "host-hostname-changed",
    act(sim) {
      sim.setHost({ hostname: "lic-srv-new" });
    },
  },
};

export interface CodeMeterScenarioRow {
  readonly action: PreflightAction;
  readonly title: string;
  readonly unwatched: { dummies: number; seatsBlocked: number };
  readonly watched: {
    readonly preflight: CodeMeterPreflight;
    readonly risks: readonly CodeMeterRiskKind[];
    /** Dummies that existed when the risk was first looked for (0: the risk came before the harm). */
    readonly dummiesWhenRaised: number;
  };
  readonly heeded: { dummies: number; safeAt: string | null };
}

function borrowThree(sim: SimulatedCodeMeterServer): void {
  sim.advance(3_600_000);
  sim.borrow("ws-1", "anna", 1001);
  sim.borrow("ws-2", "ben", 1001);
  sim.borrow("ws-3", "cleo", 2001);
}

/** After the action: ws-1 and ws-2 give theirs back on day 3, ws-3 lets it expire; the clock runs to day 33. */
function finish(sim: SimulatedCodeMeterServer, afterAction?: () => void): void {
  afterAction?.();
  sim.advanceDays(2);
  for (const borrow of sim.active().filter((b) => b.client === "ws-1" || b.client === "ws-2")) {
    if (sim.running) sim.returnBorrow(borrow.borrowId);
  }
  sim.advanceDays(31);
}

/** What a naive admin does after each action (nothing watching, nobody warned). */
function aftermath(action: PreflightAction, sim: SimulatedCodeMeterServer): void {
  if (action === "uninstall-driver") sim.installRuntime();
}

async function unwatched(action: PreflightAction): Promise<CodeMeterScenarioRow["unwatched"]> {
  const { sim } = simWorld();
  borrowThree(sim);
  sim.advanceDays(1);
  CODEMETER_SCENARIOS[action].act(sim, () => undefined);
  finish(sim, () => aftermath(action, sim));
  return { dummies: sim.dummies().length, seatsBlocked: sim.seatsBlocked() };
}

async function watched(action: PreflightAction): Promise<CodeMeterScenarioRow["watched"]> {
  // The maintenance plan reaches the watch as the bridge's plan would.
  const maintenance$ = new BehaviorSubject<MaintenanceWindow | null>(null);
  const { sim, watch, look } = await watchedWorld({ maintenance$ });
  borrowThree(sim);
  sim.advanceDays(1);
  await look();
  const preflight = await watch.preflight(action);
  CODEMETER_SCENARIOS[action].act(sim, (window) => maintenance$.next(window));
  sim.advance(60_000);
  await look();
  const risks = watch.risks().map((risk) => risk.kind);
  const dummiesWhenRaised = sim.dummies().length;
  return { preflight, risks, dummiesWhenRaised };
}

async function heeded(action: PreflightAction): Promise<CodeMeterScenarioRow["heeded"]> {
  const world = await watchedWorld();
  const { sim, watch, look } = world;
  borrowThree(sim);
  sim.advanceDays(1);
  await look();
  const first = await watch.preflight(action);
  if (first.safe) throw new Error(`preflight ${action} said safe with three borrows out`);
  // The admin asks ws-1 and ws-2 for theirs back and waits for the last one to end.
  sim.advanceDays(2);
  for (const borrow of sim.active().filter((b) => b.client !== "ws-3")) sim.returnBorrow(borrow.borrowId);
  const last = first.lastEndsAt === null ? sim.now() : Date.parse(first.lastEndsAt);
  sim.advance(Math.max(0, last - sim.now()) + 60_000);
  // CodeMeter logs no returns: the early returns show at the next start; the expiry shows now.
  sim.restartService();
  sim.advance(5 * 60_000);
  await look();
  const second = await watch.preflight(action);
  if (!second.safe)
    throw new Error(`preflight ${action} still unsafe after every borrow ended: ${second.reasons.join(" ")}`);
  const scenario = CODEMETER_SCENARIOS[action];
  if (scenario.heededAct !== undefined) scenario.heededAct(sim);
  else scenario.act(sim, () => undefined);
  finish(sim, () => aftermath(action, sim));
  return { dummies: sim.dummies().length, safeAt: first.lastEndsAt };
}

export async function runCodeMeterScenario(action: PreflightAction): Promise<CodeMeterScenarioRow> {
  return {
    action,
    title: CODEMETER_SCENARIOS[action].title,
    unwatched: await unwatched(action),
    watched: await watched(action),
    heeded: await heeded(action),
  };
}

export const CODEMETER_SCENARIO_ACTIONS: readonly PreflightAction[] = PREFLIGHT_ACTIONS;

export function formatCodeMeterTable(rows: readonly CodeMeterScenarioRow[]): string {
  const lines = [
    "| action on the simulated CodeMeter server (3 borrows out) | nothing watching: dummies | seats blocked | keybridge preflight | keybridge risk before the harm | dummies when the preflight is heeded |",
    "| --- | ---: | ---: | --- | --- | ---: |",
  ];
  for (const row of rows) {
    const risk = CODEMETER_SCENARIOS[row.action].risk;
    const raised = row.watched.risks.includes(risk) && row.watched.dummiesWhenRaised === 0;
    lines.push(
      `| ${row.action}: ${row.title} | ${row.unwatched.dummies} | ${row.unwatched.seatsBlocked} | ` +
        `${row.watched.preflight.safe ? "safe (!)" : `unsafe, ${row.watched.preflight.borrows.length} borrows in the way`} | ` +
        `${raised ? risk : `NOT raised (${row.watched.risks.join(", ") || "none"})`} | ${row.heeded.dummies} |`,
    );
  }
  return lines.join("\n");
}

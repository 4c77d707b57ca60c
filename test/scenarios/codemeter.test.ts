import { describe, expect, it } from "vitest";
import { openCodeMeterBridge } from "../unit/bridge/codemeter-helpers.js";
import { readPage, tableRows, withoutCodeBlocks } from "../unit/docs/markdown.js";
import {
  CODEMETER_SCENARIO_ACTIONS,
  CODEMETER_SCENARIOS,
  type CodeMeterScenarioRow,
  formatCodeMeterTable,
  runCodeMeterScenario,
} from "./codemeter-scenarios.js";

/** The dummies the simulated CodeMeter server makes with nothing watching (its rules, three borrows out). */
const UNWATCHED_DUMMIES: Record<string, number> = {
  "upgrade-licenses": 3,
  "install-major-version": 3,
  "unplug-key": 3,
  "move-key": 3,
  "uninstall-driver": 3,
  "reinstall-os": 3,
  "change-ip": 3,
  "restart-service": 1,
  "change-hostname": 3,
};

const rows: CodeMeterScenarioRow[] = [];

describe.each(CODEMETER_SCENARIO_ACTIONS)("CodeMeter scenario %s", (action) => {
  it("nothing watching: dummies; watched: preflight refuses, the matching risk comes before any dummy; heeded: none", async () => {
    const row = await runCodeMeterScenario(action);
    rows.push(row);
    expect(row.unwatched.dummies).toBe(UNWATCHED_DUMMIES[action]);
    expect(row.unwatched.seatsBlocked).toBeGreaterThan(0);
    expect(row.watched.preflight.safe).toBe(false);
    expect(row.watched.preflight.borrows.length).toBeGreaterThan(0);
    expect(row.watched.preflight.lastEndsAt).not.toBeNull();
    expect(row.watched.risks).toContain(CODEMETER_SCENARIOS[action].risk);
    expect(row.watched.dummiesWhenRaised).toBe(0);
    expect(row.heeded.dummies).toBe(0);
  });
});

describe("the CodeMeter scenario table", () => {
  it("has a row per action, printed", () => {
    const table = formatCodeMeterTable(rows);
    // The table of docs/codemeter.md, printed so a run shows it.
    console.log(`\n${table}\n`);
    expect(table.split("\n")).toHaveLength(CODEMETER_SCENARIO_ACTIONS.length + 2);
    expect(table).not.toContain("NOT raised");
  });
});

describe("the README's CodeMeter table", () => {
  it("shows what the run shows: dummies and seats with nothing watching, preflight, the risk raised first, dummies when heeded", () => {
    const readme = tableRows(withoutCodeBlocks(readPage("README.md")), "CodeMeter action");
    const ran = [...rows]
      .sort((a, b) => CODEMETER_SCENARIO_ACTIONS.indexOf(a.action) - CODEMETER_SCENARIO_ACTIONS.indexOf(b.action))
      .map((row) => {
        const risk = CODEMETER_SCENARIOS[row.action].risk;
        const raisedFirst = row.watched.risks.includes(risk) && row.watched.dummiesWhenRaised === 0;
        return [
          row.action,
          String(row.unwatched.dummies),
          String(row.unwatched.seatsBlocked),
          row.watched.preflight.safe ? "safe" : "unsafe",
          raisedFirst ? `\`${risk}\`` : "not raised first",
          String(row.heeded.dummies),
        ];
      });
    expect(ran).toHaveLength(CODEMETER_SCENARIO_ACTIONS.length);
    expect(readme).toEqual(ran);
  });
});

describe("the CodeMeter scenarios' preflight through the bridge", () => {
  it("with three CodeMeter borrows out, the daemon's preflight refuses every seed action and names them", async () => {
    const { bridge, sim } = await openCodeMeterBridge({
      borrows: [
        ["ws-1", "anna", 1001, 30],
        ["ws-2", "ben", 1001, 30],
        ["ws-3", "cleo", 2001, 30],
      ],
    });
    const ids = sim
      .active()
      .map((borrow) => borrow.borrowId)
      .sort();
    for (const action of CODEMETER_SCENARIO_ACTIONS) {
      const answer = await bridge.preflight(action);
      expect(answer.safe, action).toBe(false);
      const theirs = answer.borrows.flatMap((borrow) => (borrow.source === "codemeter" ? [borrow.borrowId] : []));
      expect(theirs.sort(), action).toEqual(ids);
      expect(answer.lastEndsAt, action).not.toBeNull();
    }
  });
});

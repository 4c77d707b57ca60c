import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { RiskKind } from "../../src/bridge/api.js";
import { tableRows } from "../unit/docs/markdown.js";
import { formatTable, runScenario, SCENARIO_IDS, type ScenarioId, type ScenarioRow } from "./scenarios.js";

/** The dummies a server that keeps only key and registry must make (3 borrows out). */
const NAIVE_DUMMIES: Record<ScenarioId, number> = {
  "upgrade-licenses": 3,
  "upgrade-licenses-forced": 3,
  "install-major-version": 3,
  "unplug-key": 1,
  "move-key": 3,
  "uninstall-driver": 3,
  "reinstall-os": 3,
  "change-ip": 3,
  "restart-service": 1,
  "change-hostname": 3,
  "clock-jump": 1,
};

/** The risk (or refusal) keybridge must raise before any harm. */
const WARNING: Record<ScenarioId, RiskKind | "refused" | "recovered"> = {
  "upgrade-licenses": "license-update-pending",
  "upgrade-licenses-forced": "license-update-pending",
  "install-major-version": "registry-lost",
  "unplug-key": "key-unplugged",
  "move-key": "key-moved",
  "uninstall-driver": "driver-removed",
  "reinstall-os": "key-moved",
  "change-ip": "host-ip-changed",
  "restart-service": "recovered",
  "change-hostname": "host-hostname-changed",
  "clock-jump": "clock-jump",
};

const rows: ScenarioRow[] = [];

describe.each(SCENARIO_IDS)("scenario %s", (id) => {
  it("naive server: the dummies key and registry alone make; keybridge: none, or warned before the harm it was forced into", async () => {
    const row = await runScenario(id);
    rows.push(row);
    expect(row.naive.dummies).toBe(NAIVE_DUMMIES[id]);
    expect(row.naive.seatsBlocked).toBeGreaterThan(0);
    expect(row.naive.daysBlocked).toBe(30);

    const kb = row.keybridge;
    expect(kb.leftActive).toBe(0);
    expect(kb.warnedBeforeHarm).toBe(true);
    const warning = WARNING[id];
    if (warning === "recovered") expect(kb.notes.join(" ")).toContain("rolled back 1 unacknowledged borrow");
    else expect(kb.risks).toContain(warning);
    if (id === "upgrade-licenses-forced") {
      expect(kb.notes.join(" ")).toContain("refused (BORROWS_OUTSTANDING)");
      expect(kb.dummies).toBe(3);
    } else {
      expect(kb.dummies).toBe(0);
      expect(kb.seatsBlocked).toBe(0);
    }
  });
});

describe("the table", () => {
  it("has one row per scenario and totals", () => {
    const table = formatTable(rows);
    expect(table.split("\n")).toHaveLength(SCENARIO_IDS.length + 3);
    expect(table).toContain("dummies NOT prevented");
  });

  it("is the table docs/scenarios.md shows (the README's short table is checked against that page)", () => {
    const page = readFileSync(new URL("../../docs/scenarios.md", import.meta.url), "utf8");
    expect(tableRows(page, "scenario")).toEqual(tableRows(formatTable(rows), "scenario"));
  });
});

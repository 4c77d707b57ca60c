import { runKeybridge } from "./keybridge-runs.js";
import type { RunResult } from "./kit.js";
import { runNaive } from "./naive-runs.js";
import { SCENARIO_IDS, type ScenarioId } from "./scenario-ids.js";

export { SCENARIO_IDS, type ScenarioId } from "./scenario-ids.js";

/** What each scenario does, in the words of the table. */
export const SCENARIO_TITLES: Record<ScenarioId, string> = {
  "upgrade-licenses": "upgrade the licenses while borrowed",
  "upgrade-licenses-forced": "upgrade the licenses, forced past the guard",
  "install-major-version": "install a new major version (new runtime, fresh registry)",
  "unplug-key": "unplug the key over the last expiry",
  "move-key": "move the key to another computer",
  "uninstall-driver": "uninstall the driver (registry lost)",
  "reinstall-os": "reinstall the OS (registry lost, new machine id)",
  "change-ip": "change the server's IP address",
  "restart-service": "restart the service mid-borrow",
  "change-hostname": "change the server's hostname",
  "clock-jump": "host clock set back 3 days",
};

export interface ScenarioRow {
  id: ScenarioId;
  title: string;
  naive: RunResult;
  keybridge: Awaited<ReturnType<typeof runKeybridge>>;
}

export async function runScenario(id: ScenarioId): Promise<ScenarioRow> {
  return { id, title: SCENARIO_TITLES[id], naive: await runNaive(id), keybridge: await runKeybridge(id) };
}

export async function runAllScenarios(): Promise<ScenarioRow[]> {
  const rows: ScenarioRow[] = [];
  for (const id of SCENARIO_IDS) rows.push(await runScenario(id));
  return rows;
}

/** keybridge's part in one phrase: the risks and refusals it raised and what it repaired. */
export function keybridgeAction(row: ScenarioRow): string {
  const kb = row.keybridge;
  const said = kb.notes.filter(
    (note) =>
      note.startsWith("risk ") ||
      note.includes("refused (BORROWS") ||
      note.startsWith("migrate") ||
      note.startsWith("restart:") ||
      note.startsWith("admin") ||
      note.startsWith("licenses upgraded") ||
      note === "reconcile --repair applied" ||
      note === "ledger imported on the new host" ||
      (note.startsWith("preflight") && note.endsWith("unsafe")),
  );
  const text = said.join("; ");
  return kb.dummies > 0 ? `${text} — dummies NOT prevented (forced by the admin)` : text;
}

/** The Markdown table of docs/scenarios.md. */
export function formatTable(rows: readonly ScenarioRow[]): string {
  const lines = [
    "| scenario | naive dummies | naive seats blocked | naive days blocked | keybridge dummies | keybridge seats blocked | keybridge action |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.id}: ${row.title} | ${row.naive.dummies} | ${row.naive.seatsBlocked} | ${row.naive.daysBlocked} | ` +
        `${row.keybridge.dummies} | ${row.keybridge.seatsBlocked} | ${keybridgeAction(row)} |`,
    );
  }
  const total = (pick: (row: ScenarioRow) => number) => rows.reduce((sum, row) => sum + pick(row), 0);
  lines.push(
    `| **total** | **${total((r) => r.naive.dummies)}** | **${total((r) => r.naive.seatsBlocked)}** | | ` +
      `**${total((r) => r.keybridge.dummies)}** | **${total((r) => r.keybridge.seatsBlocked)}** | |`,
  );
  return lines.join("\n");
}

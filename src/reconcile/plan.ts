import type { ReconcileReport, RepairAction, RepairPlan, RepairStep } from "./types.js";

type StepAction = RepairStep["action"];

/**
 * Order of application: the ledger first (the registry is restored from it and migrate and
 * settle read their proof from it), then the registry mirror, then the key operations — migrate
 * before settle, because settling with another host's binding would create a dummy.
 */
const PHASE: Record<StepAction, number> = {
  "rebuild-ledger": 0,
  "mark-ledger-settled": 1,
  "restore-registry": 2,
  "remove-registry-entry": 3,
  migrate: 4,
  "settle-now": 5,
};

function isStepAction(action: RepairAction): action is StepAction {
  return action !== "none" && action !== "wait";
}

/**
 * The safe repairs of a report as an ordered list, one step per action and borrow. Each step is
 * idempotent for the executor (it rewrites or marks to a target state), so a plan can be re-run,
 * and the same report always gives the same plan. Unsafe repairs are listed under `manual`.
 */
export function planRepairs(report: ReconcileReport): RepairPlan {
  const steps: RepairStep[] = [];
  const manual: RepairPlan["manual"] = [];
  const seen = new Set<string>();
  for (const f of report.findings) {
    const { action } = f.repair;
    if (!f.repair.safe) {
      manual.push(f);
      continue;
    }
    if (!isStepAction(action)) continue;
    const key = `${action}\u0000${f.serial ?? ""}\u0000${f.borrowId ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const step: RepairStep = { action, kind: f.kind, description: f.repair.description };
    if (f.serial !== undefined) step.serial = f.serial;
    if (f.borrowId !== undefined) step.borrowId = f.borrowId;
    if (f.repair.tagSource !== undefined) step.tagSource = f.repair.tagSource;
    steps.push(step);
  }
  // Array.prototype.sort is stable: within a phase the report's serial/id order stays.
  steps.sort((a, b) => PHASE[a.action] - PHASE[b.action]);
  return { steps, manual };
}

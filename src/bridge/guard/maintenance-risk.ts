import type { BorrowRow } from "../../ledger/index.js";
import { formatTime } from "../../reconcile/index.js";
import { describeBorrows, lastExpiry, plural } from "./describe.js";
import type { DesiredRisk, MaintenanceWindow } from "./risk-inputs.js";

/** How long before a planned maintenance the borrows still in its way become a risk. */
export const MAINTENANCE_LEAD_MS = 48 * 3_600_000;

/** Within two days of a planned maintenance (or during it), the held borrows that still end after its start. */
export function maintenanceRisk(
  plan: MaintenanceWindow | null,
  held: readonly BorrowRow[],
  now: number,
): DesiredRisk | undefined {
  if (plan === null) return undefined;
  if ((plan.until !== null && now >= plan.until) || now < plan.at - MAINTENANCE_LEAD_MS) return undefined;
  const inTheWay = held.filter((row) => row.state === "active" && row.expiresAt > plan.at);
  if (inTheWay.length === 0) return undefined;
  const what = plan.action === null ? "The maintenance" : `The maintenance (${plan.action})`;
  const when = now >= plan.at ? `that started ${formatTime(plan.at)}` : `planned for ${formatTime(plan.at)}`;
  return {
    kind: "maintenance-blocked",
    rows: inTheWay,
    message: `${what} ${when} would turn ${plural(inTheWay.length, "borrow")} into borrow dummies: ${describeBorrows(inTheWay)} ${inTheWay.length === 1 ? "ends" : "end"} after it.`,
    advice: `Ask for ${inTheWay.length === 1 ? "it" : "them"} back before ${formatTime(plan.at)}, or move the window past ${formatTime(lastExpiry(inTheWay))} (keybridge maintenance plan); see keybridge maintenance.`,
  };
}

import type { CheckOutcome, CheckStatus } from "./types.js";

const WEIGHT: Record<CheckStatus, number> = { ok: 0, skip: 1, warn: 2, fail: 3 };

/** One check made of several findings: the worst status wins, details and fixes are kept in order. */
export function combine(parts: readonly CheckOutcome[]): CheckOutcome {
  let status: CheckStatus = "ok";
  for (const part of parts) if (WEIGHT[part.status] > WEIGHT[status]) status = part.status;
  const fixes = parts.flatMap((part) => (part.fix === undefined || part.status === "ok" ? [] : [part.fix]));
  const detail = parts.map((part) => part.detail).join("; ");
  return fixes.length > 0 ? { status, detail, fix: fixes.join("\n") } : { status, detail };
}

import { safe } from "../safe-text.js";
import type { CheckStatus, DoctorReport } from "./types.js";

const LABEL: Record<CheckStatus, string> = { ok: "ok", warn: "WARN", fail: "FAIL", skip: "skip" };

/** One aligned line per check, its fix indented below it, then a summary line. */
export function doctorText(report: DoctorReport): string {
  const idWidth = Math.max(...report.checks.map((check) => check.id.length));
  const lines: string[] = [];
  for (const check of report.checks) {
    // Details name devices, paths and files this machine holds: made safe as any data shown.
    lines.push(`${LABEL[check.status].padEnd(4)}  ${check.id.padEnd(idWidth)}  ${safe(check.detail)}`);
    if (check.fix !== undefined && check.status !== "ok") {
      const indent = " ".repeat(4 + 2 + idWidth + 2);
      const [first, ...rest] = check.fix.split("\n");
      lines.push(`${indent}fix: ${safe(first)}`);
      for (const line of rest) lines.push(`${indent}     ${safe(line)}`);
    }
  }
  const counts = (status: CheckStatus) => report.checks.filter((check) => check.status === status).length;
  const failed = counts("fail");
  const warned = counts("warn");
  const skipped = counts("skip");
  const rest = [
    warned > 0 ? `${warned} warning${warned === 1 ? "" : "s"}` : "",
    skipped > 0 ? `${skipped} skipped` : "",
  ]
    .filter((part) => part !== "")
    .join(", ");
  const summary =
    failed > 0
      ? `${failed} of ${report.checks.length} checks failed${rest === "" ? "" : `, ${rest}`}: apply the fixes above, then run keybridge doctor again.`
      : `No check failed${rest === "" ? "" : ` (${rest})`}.`;
  lines.push("", summary);
  return `${lines.join("\n")}\n`;
}

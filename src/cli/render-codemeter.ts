import type {
  BorrowView,
  CodeMeterBorrowRefView,
  CodeMeterBorrowView,
  CodeMeterMaintenanceView,
  CodeMeterView,
  ListedBorrowView,
  StatusView,
} from "../bridge/api.js";
import { type Clocks, prose, SERVER_CLOCK, table, when } from "./format.js";
import { safe } from "./safe-text.js";

/**
 * The human form of the read-only CodeMeter mode: `keybridge codemeter`, the CodeMeter line of
 * `status`, CodeMeter borrows in `borrows`, and the WebAdmin setting of a maintenance plan.
 */

const yesNo = (value: boolean | null, yes: string, no: string) => (value === null ? "unknown" : value ? yes : no);

function expiry(expiresAt: string | null): string {
  return expiresAt === null ? "never" : when(expiresAt);
}

function license(borrow: Pick<CodeMeterBorrowView, "firmCode" | "productCode">): string {
  return `${borrow.firmCode ?? "?"}:${borrow.productCode ?? "?"}`;
}

function who(borrow: Pick<CodeMeterBorrowView, "client" | "user">): string {
  return `${borrow.client ?? "?"}${borrow.user === null ? "" : ` (${borrow.user})`}`;
}

export function codeMeterBorrowsText(borrows: readonly CodeMeterBorrowView[]): string {
  if (borrows.length === 0) return "No CodeMeter borrows.\n";
  return table(
    ["BORROW ID", "STICK", "FIRM:PRODUCT", "CLIENT (USER)", "STATE", "EXPIRES"],
    borrows.map((b) => [
      b.borrowId,
      b.serial ?? "?",
      `${license(b)}${b.productText === null ? "" : ` ${b.productText}`}`,
      who(b),
      b.state === "missing" ? `MISSING (dummy until ${when(b.dummyUntil)})` : b.state,
      expiry(b.expiresAt),
    ]),
  );
}

export function codeMeterText(view: CodeMeterView): string {
  if (!view.enabled) {
    return `CodeMeter: not watched (${safe(view.mode)}): ${prose(view.reason)}\n`;
  }
  const lines = [
    `CodeMeter (read-only, mode ${safe(view.mode)}): ${prose(view.reason)}`,
    `Runtime: ${safe(view.runtime.version ?? "version unknown")}; service ${yesNo(view.runtime.serviceRunning, "running", "NOT RUNNING")}`,
    `License Tracking: ${yesNo(view.tracking.enabled, "on", "OFF (CodeMeter borrows are invisible to keybridge)")}` +
      `${view.tracking.dir === null ? "" : ` — ${safe(view.tracking.dir)}`}; ` +
      `${view.logLines.parsed} log line(s) read, ${view.logLines.skipped} skipped`,
  ];
  let text = `${lines.join("\n")}\n\nSticks\n`;
  text +=
    view.sticks.length === 0
      ? "No CmSticks.\n"
      : table(
          ["SERIAL", "MODEL", "PRESENT"],
          view.sticks.map((s) => [s.serial, s.model ?? "-", s.present ? "yes" : "NO"]),
        );
  text += `\nBorrows\n${codeMeterBorrowsText(view.borrows)}`;
  text += "\nRisks\n";
  text +=
    view.risks.length === 0
      ? "No open CodeMeter risks.\n"
      : view.risks
          .map(
            (r) =>
              `[${safe(r.severity.toUpperCase())}] ${safe(r.kind)} since ${when(r.since)}\n  ${prose(r.message)}\n  What to do: ${prose(r.advice)}\n`,
          )
          .join("");
  if (view.findings.length > 0) {
    text += `\nWhat keybridge cannot read\n${view.findings.map((f) => `  - ${safe(f.code)}: ${prose(f.message)}\n`).join("")}`;
  }
  return text;
}

/** The status line: only while the mode runs. */
export function codeMeterStatusLine(codemeter: StatusView["codemeter"]): string {
  if (codemeter === undefined) return "";
  return (
    `CodeMeter: runtime ${safe(codemeter.runtimeVersion ?? "?")}, service ${yesNo(codemeter.serviceRunning, "running", "NOT RUNNING")}, ` +
    `tracking ${yesNo(codemeter.trackingEnabled, "on", "OFF")}, ${codemeter.sticksPresent} stick(s), ` +
    `${codemeter.borrowsOutstanding} CodeMeter borrow(s) out — keybridge codemeter\n`
  );
}

/** `keybridge borrows`: keybridge's table, then the CodeMeter borrows (read-only) when there are any. */
export function listedBorrowsText(
  list: readonly ListedBorrowView[],
  ownText: (borrows: BorrowView[], clocks: Clocks) => string,
  clocks: Clocks = SERVER_CLOCK,
): string {
  const own = list.filter((b): b is BorrowView => b.source !== "codemeter");
  const theirs = list.filter((b): b is CodeMeterBorrowView => b.source === "codemeter");
  if (theirs.length === 0) return ownText(own, clocks);
  const head = own.length === 0 ? "" : ownText(own, clocks);
  return `${head}${head === "" ? "" : "\n"}CodeMeter borrows (read-only: keybridge cannot return them)\n${codeMeterBorrowsText(theirs)}`;
}

function refLine(ref: CodeMeterBorrowRefView): string {
  return `  ${safe(ref.borrowId)}  ${safe(ref.serial ?? "?")}  ${license(ref)}  ${safe(who(ref))}  expires ${expiry(ref.expiresAt)}\n`;
}

/** A maintenance plan's CodeMeter part: the WebAdmin setting to make, and the CodeMeter borrows still in the way. */
export function codeMeterMaintenanceText(advice: CodeMeterMaintenanceView | undefined): string {
  if (advice === undefined) return "";
  let text = `\nCodeMeter: ${prose(advice.setting)}\n${prose(advice.summary)}\n`;
  if (advice.borrowsEndingAfter.length > 0) text += advice.borrowsEndingAfter.map(refLine).join("");
  return text;
}

import type {
  CodeMeterBorrowRef,
  CodeMeterModeDecision,
  CodeMeterRisk,
  CodeMeterBorrowView as WatchBorrowView,
  CodeMeterView as WatchView,
} from "../codemeter/index.js";
import type {
  BorrowStateView,
  CodeMeterBorrowRefView,
  CodeMeterBorrowView,
  CodeMeterView,
  RiskView,
  StatusView,
} from "./api.js";

/**
 * The CodeMeter mode's values in the bridge's contract (src/bridge/api.ts): its risks as RiskViews
 * with source `codemeter`, its borrows and its picture. Pure mappings, no I/O.
 */

export function codeMeterRiskView(risk: CodeMeterRisk): RiskView & { source: "codemeter" } {
  return {
    kind: risk.kind,
    source: "codemeter",
    severity: risk.severity,
    message: risk.message,
    advice: risk.advice,
    since: risk.since,
    ...(risk.serial === undefined ? {} : { serial: risk.serial }),
    ...(risk.borrows.length === 0 ? {} : { codeMeterBorrowIds: [...risk.borrows] }),
  };
}

export function codeMeterBorrowView(borrow: WatchBorrowView): CodeMeterBorrowView {
  return {
    source: "codemeter",
    borrowId: borrow.borrowId,
    serial: borrow.serial,
    firmCode: borrow.firmCode,
    productCode: borrow.productCode,
    productText: borrow.productText,
    client: borrow.client,
    user: borrow.user,
    expiresAt: borrow.expiresAt,
    firstSeen: borrow.firstSeen,
    lastSeen: borrow.lastSeen,
    state: borrow.missing ? "missing" : "active",
    dummyUntil: borrow.dummyUntil,
  };
}

export function codeMeterBorrowRefView(ref: CodeMeterBorrowRef): CodeMeterBorrowRefView {
  return {
    source: "codemeter",
    borrowId: ref.borrowId,
    serial: ref.serial,
    firmCode: ref.firmCode,
    productCode: ref.productCode,
    client: ref.client,
    user: ref.user,
    expiresAt: ref.expiresAt,
  };
}

/** Does a CodeMeter borrow pass the borrow list's filter? A missing one (a likely dummy) counts as `dummy`. */
export function codeMeterBorrowMatches(
  borrow: CodeMeterBorrowView,
  filter: { serial?: string; state?: BorrowStateView },
): boolean {
  if (filter.serial !== undefined && borrow.serial !== filter.serial) return false;
  if (filter.state === undefined) return true;
  return borrow.state === "missing" ? filter.state === "dummy" : filter.state === "active";
}

/** The picture of a host where the mode does not run: nothing of CodeMeter shows. */
export function disabledCodeMeterView(decision: Pick<CodeMeterModeDecision, "mode" | "reason">): CodeMeterView {
  return {
    enabled: false,
    mode: decision.mode,
    reason: decision.reason,
    runtime: { version: null, serviceRunning: null },
    tracking: { enabled: null, dir: null },
    sticks: [],
    borrows: [],
    risks: [],
    findings: [],
    logLines: { parsed: 0, skipped: 0 },
  };
}

/** The mode was to run but could not start: shown as enabled, with nothing read and the reason as a finding. */
export function failedCodeMeterView(decision: CodeMeterModeDecision, failure: string): CodeMeterView {
  return {
    ...disabledCodeMeterView(decision),
    enabled: true,
    findings: [...decision.findings, { code: "mode-failed", message: failure }],
  };
}

export function enabledCodeMeterView(
  decision: CodeMeterModeDecision,
  view: WatchView,
  risks: readonly CodeMeterRisk[],
  linesParsed: number,
): CodeMeterView {
  return {
    enabled: true,
    mode: decision.mode,
    reason: decision.reason,
    runtime: { version: view.runtime.version, serviceRunning: view.runtime.serviceRunning },
    tracking: { enabled: view.tracking.enabled, dir: view.tracking.dir },
    sticks: view.sticks.map((stick) => ({ serial: stick.serial, model: stick.model, present: stick.present })),
    borrows: view.borrows.map(codeMeterBorrowView),
    risks: risks.map(codeMeterRiskView),
    findings: [...decision.findings, ...view.findings].map((finding) => ({
      code: finding.code,
      message: finding.message,
    })),
    logLines: { parsed: linesParsed, skipped: view.tracking.malformedLines + view.tracking.oversizedLines },
  };
}

/** The status line's worth: present only while the mode runs. */
export function codeMeterStatus(view: CodeMeterView): StatusView["codemeter"] {
  if (!view.enabled) return undefined;
  return {
    runtimeVersion: view.runtime.version,
    serviceRunning: view.runtime.serviceRunning,
    trackingEnabled: view.tracking.enabled,
    sticksPresent: view.sticks.filter((stick) => stick.present).length,
    borrowsOutstanding: view.borrows.filter((borrow) => borrow.state === "active").length,
  };
}

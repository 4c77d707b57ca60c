import type { CodeMeterMaintenanceAdvice, CodeMeterPreflight } from "../codemeter/index.js";
import type { CodeMeterMaintenanceView, PreflightView } from "./api.js";
import { codeMeterBorrowRefView } from "./codemeter-views.js";

/**
 * One preflight answer for both kinds of borrow: unsafe when either is, every borrow in the way
 * with its source, and when the last of them ends (null when one never expires).
 */
export function joinPreflight(own: PreflightView, codemeter: CodeMeterPreflight | null): PreflightView {
  if (codemeter === null) return own;
  const theirs = codemeter.borrows.map(codeMeterBorrowRefView);
  let lastEndsAt = own.lastEndsAt;
  if (theirs.length > 0) {
    // The module's null with borrows in the way means one never expires: nothing ends "last" then.
    // keybridge's borrows always end: its null means none of them is in the way.
    const ours = own.lastEndsAt;
    const last = codemeter.lastEndsAt;
    lastEndsAt = last === null || ours === null || Date.parse(last) > Date.parse(ours) ? last : ours;
  }
  return {
    action: own.action,
    safe: own.safe && codemeter.safe,
    reasons: [...own.reasons, ...codemeter.reasons],
    advice: [...own.advice, ...codemeter.advice, ...codemeter.info],
    borrows: [...own.borrows, ...theirs],
    lastEndsAt,
  };
}

export function codeMeterMaintenanceView(advice: CodeMeterMaintenanceAdvice): CodeMeterMaintenanceView {
  return {
    maximumBorrowDurationMinutes: advice.maximumBorrowDurationMinutes,
    setting: advice.setting,
    borrowsEndingAfter: advice.borrowsEndingAfter.map(codeMeterBorrowRefView),
    clear: advice.clear,
    summary: advice.summary,
  };
}

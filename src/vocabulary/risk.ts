import type { Severity } from "./severity.js";

/**
 * Every kind of risk keybridge raises, for its own borrows and for a CodeMeter server's, in one
 * list: a kind means the same thing whichever borrows it endangers, and a risk says which by its
 * `source`. The CodeMeter mode raises the kinds of `CODEMETER_RISK_KINDS` only.
 */
export const RISK_KINDS = [
  "key-unplugged",
  "key-moved",
  "key-counterfeit",
  "host-ip-changed",
  "host-hostname-changed",
  "host-machine-id-changed",
  "os-reinstalled",
  "driver-removed",
  "driver-changed",
  "registry-lost",
  "registry-corrupt",
  "ledger-rebuilt",
  "clock-jump",
  "borrow-expiring-unsettled",
  "license-update-pending",
  "maintenance-blocked",
  "tag-unknown",
  "ledger-unwritable",
  "ledger-lost",
  "service-stopped",
  "borrow-missing",
  "tracking-off",
] as const;
export type RiskKind = (typeof RISK_KINDS)[number];

/** How urgent each kind is, whichever borrows it endangers. */
export const RISK_SEVERITY: Readonly<Record<RiskKind, Severity>> = {
  "key-unplugged": "critical",
  "key-moved": "critical",
  "key-counterfeit": "critical",
  "host-ip-changed": "critical",
  "host-hostname-changed": "critical",
  "host-machine-id-changed": "critical",
  "os-reinstalled": "critical",
  "driver-removed": "warning",
  "driver-changed": "warning",
  "registry-lost": "critical",
  "registry-corrupt": "warning",
  "ledger-rebuilt": "warning",
  "clock-jump": "warning",
  "borrow-expiring-unsettled": "critical",
  "license-update-pending": "warning",
  "tag-unknown": "critical",
  "maintenance-blocked": "warning",
  "ledger-unwritable": "critical",
  "ledger-lost": "critical",
  "service-stopped": "warning",
  "borrow-missing": "critical",
  "tracking-off": "warning",
};

/**
 * Whose borrows a risk endangers, or a listed borrow is: keybridge's own, or those of the
 * CodeMeter server on this host (watched read-only).
 */
export const BORROW_SOURCES = ["keybridge", "codemeter"] as const;
export type BorrowSource = (typeof BORROW_SOURCES)[number];

/** The kinds only the CodeMeter mode raises (it reuses the others where the meaning is the same). */
export const CODEMETER_ONLY_RISK_KINDS = [
  "service-stopped",
  "borrow-missing",
  "tracking-off",
] as const satisfies readonly RiskKind[];

export type { PreflightAction } from "./actions.js";
export { isPreflightAction, PREFLIGHT_ACTIONS } from "./actions.js";
export { UnknownPreflightActionError } from "./errors.js";
export { formatTime } from "./format.js";
export { historyNeeded } from "./history-needed.js";
export type { KindDescription } from "./kinds.js";
export { describeKind } from "./kinds.js";
export { planRepairs } from "./plan.js";
export type {
  EndangeredBorrow,
  PreflightBorrow,
  PreflightState,
  PreflightVerdict,
} from "./preflight.js";
export { preflight, preflightStateFrom } from "./preflight.js";
export { reconcile } from "./reconcile.js";
export type {
  BlockedProduct,
  DummyInfo,
  Finding,
  FindingKind,
  HostView,
  KeyBorrow,
  KeyLicense,
  KeyView,
  LedgerBorrow,
  ReconcileInput,
  ReconcileReport,
  RegistryBorrow,
  RegistryView,
  Repair,
  RepairAction,
  RepairPlan,
  RepairStep,
  Severity,
} from "./types.js";
export { FINDING_KINDS, REPAIR_ACTIONS } from "./types.js";

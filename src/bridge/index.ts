export type * from "./api.js";
export { BRIDGE_EVENT_TYPES, RISK_KINDS } from "./api.js";
export { CodeMeterBorrowReadOnlyError, isCodeMeterBorrowId } from "./codemeter-errors.js";
export { CRASH_POINTS, type CrashPoint } from "./crash-points.js";
export { DataDirLock, LOCK_FILE_NAME, prepareDataDir } from "./data-dir.js";
export * from "./errors.js";
export type { BridgeInternals } from "./internals.js";
export { type BridgeTestSeams, type OpenedBridge, openBridge } from "./open.js";
export type { RiskSource } from "./risk-source.js";

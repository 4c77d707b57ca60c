/**
 * The read-only CodeMeter mode: watches a CodeMeter license server's borrows through what it
 * shows from outside (USB, `cmu`, the License Tracking log, the server configuration) and never
 * writes anything CodeMeter owns.
 */
export {
  CAPTURE_FORMAT,
  CAPTURE_VERSION,
  type CaptureBundle,
  type CaptureDetection,
  type CaptureOptions,
  captureBundle,
} from "./capture.js";
export { CodeMeterPositionWriteError, CodeMeterWatchClosedError } from "./errors.js";
export { captureThisHost, type HostCapture, type HostCaptureOptions } from "./host-capture.js";
export type { BorrowBook } from "./model/borrow-book.js";
export type { TrackingEntry } from "./model/entries.js";
export type { Finding, FindingCode } from "./model/findings.js";
export type { CmuReading, ConfigReading, HostSnapshot, StickSighting, TrackingStatus } from "./model/inputs.js";
export type { CodeMeterMaintenanceAdvice } from "./model/maintenance.js";
export {
  CODEMETER_MODES,
  CODEMETER_PARTS,
  type CodeMeterMode,
  type CodeMeterModeDecision,
  type CodeMeterModeInput,
  type CodeMeterPart,
  resolveCodeMeterMode,
} from "./model/mode.js";
export type {
  BorrowObservation,
  BorrowStatus,
  KnownBy,
  LicenseObservation,
  ObservationAudit,
  ObservationAuditKind,
} from "./model/observations.js";
export type { CodeMeterBorrowRef, CodeMeterPreflight } from "./model/preflight.js";
export {
  CODEMETER_RISK_KINDS,
  CODEMETER_SEVERITY,
  type CodeMeterRiskKind,
  type MaintenanceWindow,
  type RiskSeverity,
} from "./model/risks.js";
export type { SectionFingerprint, ServerConfig } from "./model/server-config.js";
export { parseTrackingLine } from "./model/tracking-line.js";
export type { CodeMeterBorrowView, CodeMeterStickView, CodeMeterView } from "./model/view.js";
export { type OpenCodeMeterOptions, openCodeMeterWatch } from "./open.js";
export {
  CMU_READ_ONLY_ARGS,
  CmuRuntimeSource,
  type CmuSourceOptions,
  DEFAULT_CMU_COMMAND,
  ManualRuntimeSource,
  type RuntimeSource,
} from "./sources/cmu.js";
export {
  type CodeMeterDetection,
  type DetectOptions,
  detectCodeMeter,
  type FindExecutableOptions,
  findExecutable,
  openServerConfigSource,
  type ServerConfigSourceOptions,
  type TrackingDirLookup,
} from "./sources/detect.js";
export {
  FilePositionStore,
  MemoryPositionStore,
  POSITIONS_FILE,
  type PositionRecord,
  type PositionStore,
} from "./sources/position-store.js";
export {
  defaultServerIniPath,
  defaultTrackingDir,
  IniServerConfigSource,
  LINUX_SERVER_INI,
  MACOS_SERVER_INI,
  ManualServerConfigSource,
  type ReadOnlyRegistryBackend,
  RegistryServerConfigSource,
  type ServerConfigSource,
  WINDOWS_SERVER_KEY,
} from "./sources/server-config.js";
export {
  listStickSightings,
  ManualStickSource,
  type SeenDevice,
  type StickSource,
  stickSourceFromDevices,
  usbStickSource,
} from "./sources/sticks.js";
export {
  FollowedTrackingLog,
  type TrackingBatch,
  type TrackingLogOptions,
  type TrackingLogSource,
  type TrackingReadResult,
  type TrackingTail,
} from "./sources/tracking-log.js";
export {
  type CodeMeterObservationStore,
  MemoryObservationStore,
  type ObservationChanges,
  type StoredObservations,
} from "./store.js";
export {
  type CodeMeterEvent,
  type CodeMeterEventType,
  type CodeMeterRisk,
  CodeMeterWatch,
  type CodeMeterWatchOptions,
  type CodeMeterWatchSources,
  type MaintenanceWindowInput,
} from "./watch.js";

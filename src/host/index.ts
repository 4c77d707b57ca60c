export { canonicalIp, DEFAULT_VIRTUAL_INTERFACE_PATTERN, selectHostIps } from "./addresses.js";
export { canonicalJson } from "./canonical-json.js";
export {
  type ClockJumpEvent,
  ClockMonitor,
  type ClockMonitorOptions,
  type ClockSources,
  DEFAULT_CLOCK_JUMP_THRESHOLD_MS,
  systemClocks,
} from "./clock-monitor.js";
export {
  HostProbeError,
  HostStateCorruptError,
  HostStateIoError,
  InvalidHostValueError,
  MonitorClosedError,
} from "./errors.js";
export { type HostChangedEvent, HostMonitor, type HostMonitorOptions } from "./host-monitor.js";
export {
  bindingHex,
  computeBinding,
  DEFAULT_BINDING_COMPONENTS,
  type DriverVersions,
  diffIdentity,
  HOST_COMPONENTS,
  type HostChange,
  type HostComponent,
  type HostIdentity,
  type RuntimeInfo,
  sameBinding,
} from "./identity.js";
export { CLOCK_STATE_FILE, FileLastSeenStore, type LastSeenStore, MemoryLastSeenStore } from "./last-seen-store.js";
export type { HostProbe } from "./probe.js";
export {
  type DriverComponent,
  defaultSimulatedIdentity,
  SIMULATED_HOST_FILE,
  type SimulatedHostOptions,
  SimulatedHostProbe,
} from "./simulated-probe.js";
export { SystemHostProbe, type SystemHostProbeOptions } from "./system-probe.js";
export { backgroundTimers, type Timers } from "./timers.js";

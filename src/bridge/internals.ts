import type { Observable } from "rxjs";
import type { CodeMeterWatchOptions } from "../codemeter/index.js";
import type { ClockJumpEvent } from "../host/index.js";
import type { RegistryAdapter } from "../registry/index.js";
import type { HidBackend } from "../transport/index.js";
import type { DataDirLock } from "./data-dir.js";

/** Internal knobs beyond BridgeOptions (tests and the daemon). */
export interface BridgeInternals {
  /** Clock jumps from another source besides the clock monitor (virtual mode cannot step the wall clock). */
  clockJumps$?: Observable<ClockJumpEvent>;
  /** Wraps the registry adapter (tests count writes). */
  wrapRegistry?: (registry: RegistryAdapter) => RegistryAdapter;
  /** How often expired borrows are settled. Default 60 000 ms. */
  expiryCheckMs?: number;
  /** Hotplug debounce. Default 250 ms (50 ms in virtual mode). */
  hotplugDebounceMs?: number;
  /** Wraps the HID backend (tests inject enumeration failures). */
  wrapBackend?: (backend: HidBackend) => HidBackend;
  /** First retry delay after a failed device enumeration. Default 1 000 ms. */
  enumerationRetryMs?: number;
  /** A quick_check of `<dataDir>/ledger.db` started earlier; when it passed, the ledger's open does not run it again. */
  ledgerCheck?: Promise<boolean>;
  /** Do not wait for the mirror's first drift check (the daemon answers while it runs; reads through the mirror wait). */
  driftCheckInBackground?: boolean;
  /** Caps the ledger file's size (tests play a full disk with it). Default: no cap. */
  ledgerMaxSizeBytes?: number;
  /** The data directory's lock, already taken by the caller, who releases it; without it openBridge takes one. */
  dataDirLock?: DataDirLock;
  /** The CodeMeter watch's poll intervals and clock (tests). */
  codeMeterWatch?: CodeMeterWatchOptions;
}

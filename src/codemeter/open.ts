import { join } from "node:path";
import type { Observable } from "rxjs";
import type { ClockJumpEvent, HostIdentity } from "../host/index.js";
import type { MaintenanceWindow } from "./model/risks.js";
import { CmuRuntimeSource } from "./sources/cmu.js";
import { openServerConfigSource } from "./sources/detect.js";
import { FilePositionStore, POSITIONS_FILE } from "./sources/position-store.js";
import type { ReadOnlyRegistryBackend } from "./sources/server-config.js";
import type { StickSource } from "./sources/sticks.js";
import { FollowedTrackingLog, type TrackingLogSource } from "./sources/tracking-log.js";
import type { CodeMeterObservationStore } from "./store.js";
import { CodeMeterWatch, type CodeMeterWatchOptions } from "./watch.js";

export interface OpenCodeMeterOptions {
  /** keybridge's data directory: the tracking-log read positions are kept there. */
  readonly dataDir: string;
  readonly store: CodeMeterObservationStore;
  readonly platform?: NodeJS.Platform;
  /** Server.ini (Linux, macOS); default the platform's path. */
  readonly serverIni?: string;
  /** The License Tracking directory; default what the configuration names, else the platform's default. */
  readonly logDir?: string;
  /** The cmu executable; default `cmu` on PATH. */
  readonly cmu?: string;
  /** Windows: the registry backend to read CodeMeter's key with; default native-reg. */
  readonly registry?: ReadOnlyRegistryBackend;
  readonly sticks?: StickSource;
  readonly host?: { readonly identity$: Observable<HostIdentity>; readonly clockJumps$?: Observable<ClockJumpEvent> };
  readonly maintenance$?: Observable<MaintenanceWindow | null>;
  readonly watch?: CodeMeterWatchOptions;
  /** Wraps the tracking-log source (the bridge counts the entries read for its metrics). */
  readonly wrapTrackingLog?: (source: TrackingLogSource) => TrackingLogSource;
}

/**
 * The CodeMeter watch over the real sources of this host: Server.ini or the registry key, `cmu`,
 * the License Tracking directory, and the sticks and host streams the caller already has. Not
 * started: call `start()`.
 */
export async function openCodeMeterWatch(options: OpenCodeMeterOptions): Promise<CodeMeterWatch> {
  const { source: config } = await openServerConfigSource({
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    ...(options.serverIni === undefined ? {} : { serverIni: options.serverIni }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });
  let watch: CodeMeterWatch | undefined;
  const followed = new FollowedTrackingLog({
    directory: () => options.logDir ?? watch?.configuredTrackingDir() ?? null,
    positions: (dir) => new FilePositionStore(join(options.dataDir, POSITIONS_FILE), dir),
  });
  const trackingLog = options.wrapTrackingLog?.(followed) ?? followed;
  watch = new CodeMeterWatch(
    {
      runtime: new CmuRuntimeSource(options.cmu === undefined ? {} : { command: options.cmu }),
      config,
      trackingLog,
      ...(options.sticks === undefined ? {} : { sticks: options.sticks }),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.maintenance$ === undefined ? {} : { maintenance$: options.maintenance$ }),
    },
    options.store,
    options.watch,
  );
  return watch;
}

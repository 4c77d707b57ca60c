import { of } from "rxjs";
import { type CaptureBundle, type CaptureDetection, captureBundle } from "./capture.js";
import { type CodeMeterMode, type CodeMeterModeDecision, resolveCodeMeterMode } from "./model/mode.js";
import { CmuRuntimeSource } from "./sources/cmu.js";
import { type CodeMeterDetection, type DetectOptions, detectCodeMeter } from "./sources/detect.js";
import { MemoryPositionStore } from "./sources/position-store.js";
import { FollowedTrackingLog } from "./sources/tracking-log.js";
import { MemoryObservationStore } from "./store.js";
import { CodeMeterWatch } from "./watch.js";

/**
 * A capture bundle of this host without the daemon (`keybridge codemeter capture`): it looks for
 * CodeMeter as the mode does, reads every source once — the whole tracking log, from its start,
 * to rebuild the borrow view — and bundles what it read. Nothing is written anywhere: the read
 * positions and the observations stay in memory, so a running daemon's are not touched.
 */

export interface HostCaptureOptions extends DetectOptions {
  /** The configured mode (codemeter.mode): recorded in the bundle with the decision it gives here. */
  readonly mode: CodeMeterMode;
  /** Replace client, user and server names by hashes. Default true. */
  readonly redact?: boolean;
  /** Lines kept from the end of each tracking-log file. Default 200. */
  readonly lastLines?: number;
  readonly keybridgeVersion: string;
  /** Each cmu call is stopped after this long. Default 10 000 ms: a capture is run by hand, once. */
  readonly cmuTimeoutMs?: number;
  readonly note?: string;
  readonly now?: () => number;
}

export interface HostCapture {
  readonly bundle: CaptureBundle;
  readonly detection: CodeMeterDetection;
  readonly decision: CodeMeterModeDecision;
  /** Bytes of tracking log read to rebuild the borrow view. */
  readonly logBytesRead: number;
}

export async function captureThisHost(options: HostCaptureOptions): Promise<HostCapture> {
  const now = options.now ?? Date.now;
  const detection = await detectCodeMeter(options);
  const decision = resolveCodeMeterMode({ mode: options.mode, found: detection.found, where: detection.where });
  // cmu as it was found (on the PATH this process was given), or as named when it was not.
  const command = detection.cmuPath ?? detection.cmuCommand;
  const runtime = new CmuRuntimeSource({ command, timeoutMs: options.cmuTimeoutMs ?? 10_000 });
  const positions = new MemoryPositionStore();
  const trackingLog = new FollowedTrackingLog({ directory: detection.trackingDir.path, positions: () => positions });
  const hour = 3_600_000;
  const watch = new CodeMeterWatch(
    { runtime, config: detection.configSource, trackingLog, sticks: { sticks$: of(detection.sticks) } },
    new MemoryObservationStore(),
    // One look, no background polls: the watch is closed right after.
    { now, runtimePollMs: hour, configPollMs: hour, logPollMs: hour, tickMs: hour },
  );
  try {
    await watch.start();
    const described: CaptureDetection = {
      mode: decision.mode,
      runs: decision.runs,
      reason: decision.reason,
      found: detection.found,
      where: detection.where,
      findings: decision.findings,
      sticks: detection.sticks,
      sticksError: detection.sticksError,
    };
    const bundle = await captureBundle(
      {
        runtime,
        config: detection.configSource,
        trackingLog,
        view: watch.view(),
        versions: { keybridge: options.keybridgeVersion },
        now: now(),
        detection: described,
      },
      {
        ...(options.redact === undefined ? {} : { redact: options.redact }),
        ...(options.lastLines === undefined ? {} : { lastLines: options.lastLines }),
        ...(options.note === undefined ? {} : { note: options.note }),
      },
    );
    return { bundle, detection, decision, logBytesRead: trackingLog.bytesRead() };
  } finally {
    await watch.close();
  }
}

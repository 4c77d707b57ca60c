/**
 * The CLI's one way into the CodeMeter module (src/codemeter/), for what reads this host without
 * the daemon: `keybridge codemeter capture`, doctor's CodeMeter checks and the default paths
 * `keybridge config` shows. The module is loaded with a dynamic import inside those commands
 * only, so every other command starts without it; test/unit/architecture.test.ts names this file
 * as the exception to "the CLI reaches the layers below the server through the HTTP API", with
 * the reason. Everything reached here reads: nothing of CodeMeter's is ever written.
 */
import type { HostCapture, HostCaptureOptions } from "../codemeter/index.js";
import type { CodeMeterDefaultsText } from "./render.js";

export type {
  CaptureBundle,
  CmuReading,
  CodeMeterDetection,
  CodeMeterMode,
  CodeMeterModeDecision,
  CodeMeterPart,
  ConfigReading,
  DetectOptions,
  Finding,
  HostCapture,
  HostCaptureOptions,
  StickSighting,
} from "../codemeter/index.js";

export type CodeMeterModule = typeof import("../codemeter/index.js");

export function loadCodeMeter(): Promise<CodeMeterModule> {
  return import("../codemeter/index.js");
}

/** What an unset `codemeter.serverIni`, `logDir` and `cmu` stand for on this platform. */
export async function codeMeterDefaultsText(
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
): Promise<CodeMeterDefaultsText> {
  const codemeter = await loadCodeMeter();
  const ini = codemeter.defaultServerIniPath(platform);
  return {
    serverIni: ini ?? `the registry key HKLM\\${codemeter.WINDOWS_SERVER_KEY} (no Server.ini on ${platform})`,
    logDir: `LogLicenseTrackingPath of the server configuration, else ${codemeter.defaultTrackingDir(platform, env)}`,
    cmu: `${codemeter.DEFAULT_CMU_COMMAND}, looked up on PATH`,
  };
}

type UsbBackend = Parameters<CodeMeterModule["listStickSightings"]>[0];

/** The CmSticks listed over `usbBackend` (the transport's HidBackend shape), or the real USB when none is given. */
export async function stickLister(usbBackend: object | undefined): Promise<HostCaptureOptions["listSticks"]> {
  if (usbBackend === undefined) return undefined;
  const codemeter = await loadCodeMeter();
  return () => codemeter.listStickSightings(usbBackend as UsbBackend);
}

export interface LocalCaptureOptions extends Omit<HostCaptureOptions, "listSticks"> {
  /** The node-hid/usb backend the sticks are listed with (tests: the virtual bus's); default the real one. */
  readonly usbBackend?: object;
}

/** `captureThisHost` of the CodeMeter module, with the CmSticks listed over `usbBackend` when one is given. */
export async function captureLocally(options: LocalCaptureOptions): Promise<HostCapture> {
  const codemeter = await loadCodeMeter();
  const { usbBackend, ...rest } = options;
  const listSticks = await stickLister(usbBackend);
  return codemeter.captureThisHost({ ...rest, ...(listSticks === undefined ? {} : { listSticks }) });
}

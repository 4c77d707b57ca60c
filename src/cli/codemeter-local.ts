/**
 * The CLI's one way into the CodeMeter module (src/codemeter/), for what reads this host without
 * the daemon: `keybridge codemeter capture`, doctor's CodeMeter checks and the default paths
 * `keybridge config` shows. The module is loaded with a dynamic import inside those commands
 * only, so every other command starts without it; test/unit/architecture.test.ts names this file
 * as the exception to "the CLI reaches the layers below the server through the HTTP API", with
 * the reason. Everything reached here reads: nothing of CodeMeter's is ever written.
 */
import type { CodeMeterDefaultsText } from "./render.js";

export type {
  CaptureBundle,
  CmuReading,
  CodeMeterDetection,
  CodeMeterMode,
  CodeMeterModeDecision,
  ConfigReading,
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

import type { CodeMeterMode } from "../codemeter-local.js";
import { codeMeterLogDirCheck } from "./codemeter-log-dir-check.js";
import { codeMeterRuntimeCheck } from "./codemeter-runtime-check.js";
import type { AccountToCheck, CodeMeterScene } from "./codemeter-scene.js";
import { codeMeterSectionsCheck } from "./codemeter-sections-check.js";
import { codeMeterTrackingCheck } from "./codemeter-tracking-check.js";
import { type AccountFiles, lookupServiceAccount, type ServiceAccount } from "./service-account.js";
import { type DoctorCheck, fail, skip } from "./types.js";

/**
 * doctor's CodeMeter checks. They look at this host as the CodeMeter mode would (the configured
 * paths, else the platform's) and, only when the mode would run here (resolveCodeMeterMode), check
 * what it needs: cmu, License Tracking on, the log directory and the Borrow sections readable by
 * the account keybridge runs as. On a host without CodeMeter (mode auto, nothing found) doctor
 * says nothing of it; with the mode off, one line says so. Everything is read; nothing is changed, and cmu is asked for its version only.
 */

export interface CodeMeterChecksInputs {
  /** keybridge's `codemeter` configuration; undefined when the configuration does not load (defaults). */
  readonly config?: {
    readonly mode: CodeMeterMode;
    readonly serverIni?: string;
    readonly logDir?: string;
    readonly cmu?: string;
  };
  readonly env: NodeJS.ProcessEnv;
  readonly platform?: NodeJS.Platform;
  /** This process's uid; default process.getuid(). */
  readonly uid?: number;
  /** The account keybridge runs as; default the `keybridge` user from /etc/passwd, when it exists. */
  readonly serviceAccount?: () => Promise<ServiceAccount | undefined>;
  readonly accountFiles?: AccountFiles;
  /** The node-hid/usb backend the CmSticks are listed with (the transport's HidBackend shape); default the real one. */
  readonly usbBackend?: object;
  /** `cmu --version` is stopped after this long. Default 2500 ms (a doctor check has 3 s). */
  readonly cmuTimeoutMs?: number;
}

export async function accountToCheck(inputs: CodeMeterChecksInputs): Promise<AccountToCheck> {
  const platform = inputs.platform ?? process.platform;
  const uid = inputs.uid ?? process.getuid?.();
  if (platform === "win32" || uid === undefined) return { who: "self", label: "this account", user: "$USER" };
  const account = await (inputs.serviceAccount ?? (() => lookupServiceAccount(undefined, inputs.accountFiles)))();
  if (account !== undefined && account.uid !== uid) {
    return { who: account, label: `the keybridge service (user ${account.name})`, user: account.name };
  }
  if (account !== undefined)
    return { who: "self", label: `the keybridge service (you, user ${account.name})`, user: account.name };
  if (uid === 0) {
    return {
      who: "self",
      label: "root (there is no keybridge user here: the daemon runs as whoever starts it)",
      user: "$USER",
    };
  }
  return { who: "self", label: `you (uid ${uid})`, user: "$USER" };
}

/** The CodeMeter checks for this host; never rejects (an unexpected error is one failed check). */
export async function codeMeterChecks(inputs: CodeMeterChecksInputs): Promise<DoctorCheck[]> {
  try {
    return await checksFor(inputs);
  } catch (error) {
    const message = (error as Error).message;
    return [
      {
        id: "codemeter",
        title: "CodeMeter",
        run: async () =>
          fail(
            `cannot look for CodeMeter: ${message}`,
            "report this error with the output of `keybridge doctor --json`",
          ),
      },
    ];
  }
}

async function checksFor(inputs: CodeMeterChecksInputs): Promise<DoctorCheck[]> {
  const { loadCodeMeter, stickLister } = await import("../codemeter-local.js");
  const codemeter = await loadCodeMeter();
  const config = inputs.config ?? { mode: "auto" as const };
  const listSticks = await stickLister(inputs.usbBackend);
  // Bounded: a file read, a PATH lookup, a stat and a USB listing given up after 2 s.
  const detection = await codemeter.detectCodeMeter({
    env: inputs.env,
    ...(inputs.platform === undefined ? {} : { platform: inputs.platform }),
    ...(config.serverIni === undefined ? {} : { serverIni: config.serverIni }),
    ...(config.logDir === undefined ? {} : { logDir: config.logDir }),
    ...(config.cmu === undefined ? {} : { cmu: config.cmu }),
    ...(listSticks === undefined ? {} : { listSticks }),
  });
  const decision = codemeter.resolveCodeMeterMode({
    mode: config.mode,
    found: detection.found,
    where: detection.where,
  });
  if (!decision.runs) {
    // A host without CodeMeter (mode auto, nothing found) hears nothing of it; a mode turned off says so once.
    if (decision.mode === "auto") return [];
    return [{ id: "codemeter", title: "CodeMeter", run: async () => skip(decision.reason) }];
  }
  const scene: CodeMeterScene = {
    detection,
    decision,
    account: await accountToCheck(inputs),
    cmuTimeoutMs: inputs.cmuTimeoutMs ?? 2500,
  };
  return [
    codeMeterRuntimeCheck(scene),
    codeMeterTrackingCheck(scene),
    codeMeterLogDirCheck(scene, inputs.accountFiles),
    codeMeterSectionsCheck(scene, inputs.accountFiles),
  ];
}

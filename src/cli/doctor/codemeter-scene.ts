import type { CodeMeterDetection, CodeMeterModeDecision } from "../codemeter-local.js";
import type { ServiceAccount } from "./service-account.js";

/** Who the log directory and Server.ini must be readable by, and how doctor can tell. */
export interface AccountToCheck {
  /** The service account (judged by the permission bits) or this process's own access. */
  readonly who: ServiceAccount | "self";
  /** For messages: `the keybridge service (user keybridge)`. */
  readonly label: string;
  /** Put in fixes: `keybridge`, or `$USER`. */
  readonly user: string;
}

/** The situation every CodeMeter check is judged in. */
export interface CodeMeterScene {
  readonly detection: CodeMeterDetection;
  readonly decision: CodeMeterModeDecision;
  readonly account: AccountToCheck;
  readonly cmuTimeoutMs: number;
}

/** How to name a CodeMeter path in keybridge's configuration, for fixes. */
export function nameItFix(what: "serverIni" | "logDir" | "cmu", example: string): string {
  const names = {
    serverIni: ["codemeter.serverIni", "KEYBRIDGE_CODEMETER_SERVER_INI", "--codemeter-server-ini"],
    logDir: ["codemeter.logDir", "KEYBRIDGE_CODEMETER_LOG_DIR", "--codemeter-log-dir"],
    cmu: ["codemeter.cmu", "KEYBRIDGE_CODEMETER_CMU", "--codemeter-cmu"],
  }[what];
  return `name it in keybridge's configuration: "codemeter": {"${what}": "${example}"} in keybridge.json, or ${names[1]}=${example}, or keybridge serve ${names[2]} ${example}`;
}

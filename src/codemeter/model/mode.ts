import type { Finding } from "./findings.js";

/**
 * Whether the CodeMeter mode runs on this host: the configured mode (`codemeter.mode`) against
 * what is found. `auto` runs only when some part of a CodeMeter installation is there, so a
 * license server without CodeMeter shows nothing of it; `on` always runs, and each part it
 * cannot find is a finding; `off` never runs. Pure: the caller looks, this decides.
 */

export const CODEMETER_MODES = ["auto", "on", "off"] as const;
export type CodeMeterMode = (typeof CODEMETER_MODES)[number];

/** The parts of a CodeMeter installation keybridge looks for, in the order they are named. */
export const CODEMETER_PARTS = ["serverConfig", "cmu", "stick", "trackingDir"] as const;
export type CodeMeterPart = (typeof CODEMETER_PARTS)[number];

export interface CodeMeterModeInput {
  readonly mode: CodeMeterMode;
  /**
   * What was found: the server configuration (Server.ini, or the registry key on Windows), `cmu`,
   * a CmStick on USB, the License Tracking directory.
   */
  readonly found: Readonly<Record<CodeMeterPart, boolean>>;
  /** Where each part was looked for (a path, a registry key, `cmu on PATH`), for the messages. */
  readonly where?: Readonly<Partial<Record<CodeMeterPart, string>>>;
}

export interface CodeMeterModeDecision {
  readonly mode: CodeMeterMode;
  /** The mode reads this host. */
  readonly runs: boolean;
  readonly found: readonly CodeMeterPart[];
  readonly missing: readonly CodeMeterPart[];
  /** With `on`: one per part missing (what keybridge cannot see without it). Empty otherwise. */
  readonly findings: readonly Finding[];
  /** One sentence for logs, `doctor` and `codemeter capture`. */
  readonly reason: string;
}

const LABELS: Readonly<Record<CodeMeterPart, string>> = {
  serverConfig: "the server configuration",
  cmu: "cmu",
  stick: "a CmStick on USB",
  trackingDir: "the License Tracking directory",
};

function labelled(part: CodeMeterPart, where: CodeMeterModeInput["where"]): string {
  const place = where?.[part];
  return place === undefined || part === "stick" ? LABELS[part] : `${LABELS[part]} (${place})`;
}

function missingFinding(part: CodeMeterPart, where: CodeMeterModeInput["where"]): Finding {
  const place = where?.[part];
  const at = place === undefined ? {} : { where: place };
  switch (part) {
    case "serverConfig":
      return {
        code: "config-missing",
        message:
          `no CodeMeter server configuration${place === undefined ? "" : ` at ${place}`}: keybridge cannot tell ` +
          "whether License Tracking is on, nor watch the Borrow sections; name it with codemeter.serverIni if it lives elsewhere",
        ...at,
      };
    case "cmu":
      return {
        code: "cmu-missing",
        message:
          `cmu not found${place === undefined ? "" : ` (${place})`}: keybridge cannot read the runtime's version or ` +
          "whether its service runs; name it with codemeter.cmu if it is installed elsewhere",
        ...at,
      };
    case "stick":
      return {
        code: "sticks-none",
        message:
          "no CmStick on USB: fine when the licenses live in another container (CmActLicense, CmCloud); " +
          "otherwise plug the stick in",
      };
    case "trackingDir":
      return {
        code: "tracking-dir-missing",
        message:
          `the License Tracking directory${place === undefined ? "" : ` ${place}`} does not exist: without it ` +
          "keybridge cannot see CodeMeter borrows; turn License Tracking on, or name the directory with codemeter.logDir",
        ...at,
      };
  }
}

export function resolveCodeMeterMode(input: CodeMeterModeInput): CodeMeterModeDecision {
  const found = CODEMETER_PARTS.filter((part) => input.found[part]);
  const missing = CODEMETER_PARTS.filter((part) => !input.found[part]);
  const list = (parts: readonly CodeMeterPart[]) => parts.map((part) => labelled(part, input.where)).join(", ");
  const base = { mode: input.mode, found, missing };
  switch (input.mode) {
    case "off":
      return { ...base, runs: false, findings: [], reason: "the CodeMeter mode is off (codemeter.mode = off)" };
    case "on":
      return {
        ...base,
        runs: true,
        findings: missing.map((part) => missingFinding(part, input.where)),
        reason:
          missing.length === 0
            ? `the CodeMeter mode is on; found ${list(found)}`
            : `the CodeMeter mode is on (codemeter.mode = on)${found.length === 0 ? "" : `; found ${list(found)}`}; not found: ${list(missing)}`,
      };
    case "auto":
      return found.length > 0
        ? { ...base, runs: true, findings: [], reason: `CodeMeter found on this host: ${list(found)}` }
        : {
            ...base,
            runs: false,
            findings: [],
            reason: `no CodeMeter on this host (looked for ${list(missing)})`,
          };
  }
}

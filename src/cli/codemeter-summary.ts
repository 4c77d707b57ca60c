import type { CodeMeterPart, Finding, HostCapture } from "./codemeter-local.js";
import { safe } from "./safe-text.js";

/** What `keybridge codemeter capture` tells after writing the bundle (`--json` prints this object). */
export interface CaptureSummary {
  readonly file: string;
  readonly bytes: number;
  readonly redacted: boolean;
  /** Tracking-log lines kept from the end of each file (`--entries`). */
  readonly entries: number;
  /** The configured mode and what it decides on this host. */
  readonly mode: string;
  readonly runs: boolean;
  readonly reason: string;
  readonly read: {
    readonly serverConfig: { readonly state: "ok" | "missing" | "failed"; readonly where: string };
    readonly cmu: {
      readonly state: "ok" | "missing" | "failed";
      readonly where: string;
      readonly version: string | null;
      readonly serviceRunning: boolean | null;
    };
    readonly trackingLog: {
      readonly dir: string;
      readonly files: number;
      readonly lines: number;
      readonly bytesRead: number;
    };
    readonly sticks: readonly string[];
    readonly borrows: number;
    readonly missingBorrows: number;
  };
  /** The parts of CodeMeter not found on this host, and where each was looked for. */
  readonly missing: readonly { readonly part: CodeMeterPart; readonly where: string }[];
  /** What a source could not read or did not understand, and the mode's findings. */
  readonly findings: readonly Finding[];
}

export function captureSummary(
  capture: HostCapture,
  written: { file: string; bytes: number; entries: number },
): CaptureSummary {
  const { bundle, detection, decision } = capture;
  const version = bundle.cmu.outputs.version;
  const lines = bundle.tracking.files.reduce((sum, file) => sum + file.lines.length, 0);
  const findings = [...decision.findings, ...bundle.view.findings];
  if (bundle.cmu.finding !== null && !findings.some((finding) => finding.code === bundle.cmu.finding?.code)) {
    findings.push(bundle.cmu.finding);
  }
  if (detection.sticksError !== null) {
    findings.push({ code: "sticks-none", message: `the CmSticks could not be listed: ${detection.sticksError}` });
  }
  return {
    file: written.file,
    bytes: written.bytes,
    redacted: bundle.redaction.enabled,
    entries: written.entries,
    mode: decision.mode,
    runs: decision.runs,
    reason: decision.reason,
    read: {
      serverConfig: { state: bundle.config.state, where: detection.where.serverConfig },
      cmu: {
        state: bundle.cmu.state,
        where: detection.cmuPath ?? detection.where.cmu,
        version: bundle.view.runtime.version,
        serviceRunning: version === undefined ? null : bundle.view.runtime.serviceRunning,
      },
      trackingLog: {
        dir: detection.trackingDir.path,
        files: bundle.view.tracking.files,
        lines,
        bytesRead: capture.logBytesRead,
      },
      sticks: detection.sticks.map((stick) => (stick.serial === "" ? `${stick.model} at ${stick.path}` : stick.serial)),
      borrows: bundle.view.borrows.filter((borrow) => !borrow.missing).length,
      missingBorrows: bundle.view.borrows.filter((borrow) => borrow.missing).length,
    },
    missing: decision.missing.map((part) => ({ part, where: detection.where[part] })),
    findings,
  };
}

const PART_LABEL: Readonly<Record<CodeMeterPart, string>> = {
  serverConfig: "server configuration",
  cmu: "cmu",
  stick: "CmStick",
  trackingDir: "License Tracking directory",
};

function size(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

export function captureSummaryText(summary: CaptureSummary): string {
  const { read } = summary;
  const indent = "             ";
  const state = (value: "ok" | "missing" | "failed") =>
    value === "ok" ? "read" : value === "missing" ? "not found" : "could not be read (see below)";
  const cmu =
    read.cmu.state === "ok"
      ? `read: runtime ${read.cmu.version ?? "version not recognised"}, service ${read.cmu.serviceRunning === false ? "NOT running" : "running"}`
      : state(read.cmu.state);
  const lines = [
    `Wrote the CodeMeter capture to ${summary.file} (mode 0600, ${size(summary.bytes)}).`,
    `  mode       ${summary.mode}: ${summary.reason}`,
    `  redaction  ${
      summary.redacted
        ? "on: client, user and server names are replaced by hashes (the salt is not in the file)"
        : "OFF (--no-redact): client, user and server names are in the file as they are"
    }`,
    `  read       server configuration ${read.serverConfig.where}: ${state(read.serverConfig.state)}`,
    `${indent}cmu ${read.cmu.where}: ${cmu}`,
    `${indent}License Tracking log ${read.trackingLog.dir}: ${plural(read.trackingLog.files, "file")}, ` +
      `${plural(read.trackingLog.lines, "line")} kept (the last ${summary.entries} of each)`,
    `${indent}USB: ${read.sticks.length === 0 ? "no CmStick" : `${plural(read.sticks.length, "CmStick")} (${read.sticks.join(", ")})`}`,
    `${indent}borrow view: ${plural(read.borrows, "borrow")} out, ${read.missingBorrows} missing ` +
      `(rebuilt from ${size(read.trackingLog.bytesRead)} of log)`,
  ];
  const block = (label: string, items: readonly string[]) => {
    for (const [index, item] of items.entries())
      lines.push(`${index === 0 ? `  ${label.padEnd(9)}  ` : indent}${item}`);
  };
  block(
    "missing",
    summary.missing.length === 0
      ? ["nothing"]
      : summary.missing.map(({ part, where }) => `${PART_LABEL[part]} (${where})`),
  );
  block(
    "findings",
    summary.findings.map((finding) => finding.message),
  );
  lines.push(
    "",
    "Attach the file to your bug report. It is plain JSON: read it before you send it" +
      (summary.redacted ? "." : ", and mind that it holds the names of your users and computers."),
  );
  return `${lines.map(safe).join("\n")}\n`;
}

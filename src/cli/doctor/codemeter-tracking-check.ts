import { type CodeMeterScene, nameItFix } from "./codemeter-scene.js";
import { type CheckOutcome, type DoctorCheck, fail, ok, warn } from "./types.js";

/** License Tracking on (`LogLicenseTracking=1`): without it keybridge cannot see CodeMeter borrows. */
export async function checkCodeMeterTracking(scene: CodeMeterScene): Promise<CheckOutcome> {
  const { config, where } = scene.detection;
  if (config.kind === "missing") {
    return warn(
      `no CodeMeter server configuration at ${where.serverConfig}: keybridge cannot tell whether License Tracking is on`,
      `install the CodeMeter runtime; if its configuration lives elsewhere, ${nameItFix("serverIni", "/etc/wibu/CodeMeter/Server.ini")}`,
    );
  }
  if (config.kind === "failed") {
    return fail(
      `cannot tell whether License Tracking is on: ${config.finding.message}`,
      "see the codemeter-borrow-sections check: the configuration must be readable first",
    );
  }
  const { tracking, where: file, origin } = config.config;
  if (tracking.enabled) {
    return ok(`on (LogLicenseTracking=${tracking.setting ?? "1"} in ${file}); the log goes to ${tracking.dir}`);
  }
  const { loadCodeMeter } = await import("../codemeter-local.js");
  const { turnTrackingOnAdvice } = await loadCodeMeter();
  const setting =
    tracking.setting === null
      ? "LogLicenseTracking is not set, and off by default"
      : `LogLicenseTracking=${tracking.setting}`;
  return warn(
    `off (${setting} in ${file}): keybridge cannot see CodeMeter borrows, raises no risk for them and its preflight cannot protect them`,
    turnTrackingOnAdvice(file, origin),
  );
}

export function codeMeterTrackingCheck(scene: CodeMeterScene): DoctorCheck {
  return { id: "codemeter-tracking", title: "CodeMeter License Tracking", run: () => checkCodeMeterTracking(scene) };
}

import { type CodeMeterScene, nameItFix } from "./codemeter-scene.js";
import { type CheckOutcome, type DoctorCheck, ok, warn } from "./types.js";

/** cmu found, which runtime it reports, and whether the CodeMeter service runs: `cmu --version` only. */
export async function checkCodeMeterRuntime(scene: CodeMeterScene): Promise<CheckOutcome> {
  const { detection } = scene;
  if (detection.cmuPath === null) {
    return warn(
      `cmu not found (${detection.where.cmu}): keybridge cannot read the CodeMeter runtime's version or whether its service runs`,
      `install the CodeMeter runtime (cmu comes with it); if it is installed, ${nameItFix("cmu", "/usr/bin/cmu")}`,
    );
  }
  const { loadCodeMeter } = await import("../codemeter-local.js");
  const { CmuRuntimeSource } = await loadCodeMeter();
  const reading = await new CmuRuntimeSource({
    command: detection.cmuPath,
    timeoutMs: scene.cmuTimeoutMs,
  }).readVersion();
  if (reading.kind === "missing") {
    return warn(
      `cmu at ${detection.cmuPath} could not be started`,
      `check that ${detection.cmuPath} is the runtime's cmu and executable; ${nameItFix("cmu", "/usr/bin/cmu")}`,
    );
  }
  if (reading.kind === "failed") {
    return warn(
      `${reading.finding.message}`,
      `run \`${detection.cmuPath} --version\` to see what it prints; \`keybridge codemeter capture --out FILE\` keeps its output for a bug report`,
    );
  }
  const version = reading.version.version ?? "a version keybridge does not recognise";
  const found = `cmu ${detection.cmuPath}: CodeMeter runtime ${version}`;
  if (reading.version.serviceRunning === false) {
    return warn(
      `${found}; the CodeMeter service is NOT running (cmu says so): CodeMeter serves no license, and keybridge raises service-stopped while borrows are out`,
      "start the CodeMeter service again, changing nothing else (on Linux usually: sudo systemctl start codemeter)",
    );
  }
  return ok(`${found}, service ${reading.version.serviceRunning === true ? "running" : "state not reported"}`);
}

export function codeMeterRuntimeCheck(scene: CodeMeterScene): DoctorCheck {
  return { id: "codemeter-cmu", title: "CodeMeter runtime (cmu)", run: () => checkCodeMeterRuntime(scene) };
}

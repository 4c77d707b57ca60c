import { type CodeMeterScene, nameItFix } from "./codemeter-scene.js";
import { type AccountFiles, directoryReadable, type ReadableResult, readAccessFix } from "./service-account.js";
import { type CheckOutcome, type DoctorCheck, fail, ok, skip, warn } from "./types.js";

/** The License Tracking directory: there, and readable (listed, every file read) by the account keybridge runs as. */
export async function checkCodeMeterLogDir(scene: CodeMeterScene, files?: AccountFiles): Promise<CheckOutcome> {
  const { trackingDir, config, where, platform } = scene.detection;
  const { path } = trackingDir;
  const from =
    trackingDir.from === "keybridge-config"
      ? "codemeter.logDir"
      : trackingDir.from === "server-config"
        ? `LogLicenseTrackingPath in ${where.serverConfig}`
        : "the platform's default";
  if (!trackingDir.present) {
    const off = config.kind === "ok" && !config.config.tracking.enabled;
    return warn(
      `${path} (${from}) does not exist${off ? ": License Tracking is off, so CodeMeter writes no log" : ""}`,
      off
        ? "turn License Tracking on (see codemeter-tracking); CodeMeter makes the directory when it starts logging"
        : `CodeMeter logs where LogLicenseTrackingPath in ${where.serverConfig} says; if the log is elsewhere, ${nameItFix("logDir", "/var/log/CodeMeter")}`,
    );
  }
  const { account } = scene;
  let result: ReadableResult;
  try {
    result = await directoryReadable(path, account.who);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (code === "EACCES" || code === "EPERM") {
      return skip(`cannot look at ${path} as this user (${code}); run \`sudo keybridge doctor\``);
    }
    return warn(
      `${path} cannot be looked at (${code})`,
      "run keybridge doctor again; if it stays, check the file system",
    );
  }
  const count = `${result.files} file${result.files === 1 ? "" : "s"}`;
  if (result.problems.length === 0) return ok(`${path} (${from}): ${count}, readable by ${account.label}`);
  return fail(
    `${path} (${from}) is not readable by ${account.label}, so keybridge cannot follow the License Tracking log: ${result.problems.join("; ")}`,
    await readAccessFix({
      path,
      kind: "directory",
      user: account.user,
      byBits: account.who !== "self",
      platform,
      readableGroup: result.readableGroup,
      blockedParent: result.blockedParent,
      ...(files?.readGroup === undefined ? {} : { readGroup: files.readGroup }),
    }),
  );
}

export function codeMeterLogDirCheck(scene: CodeMeterScene, files?: AccountFiles): DoctorCheck {
  return {
    id: "codemeter-log-dir",
    title: "CodeMeter License Tracking directory",
    run: () => checkCodeMeterLogDir(scene, files),
  };
}

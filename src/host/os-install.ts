import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { layerLogger } from "../log.js";
import { canonicalJson } from "./canonical-json.js";
import type { CommandRunner } from "./command.js";
import { parseRegQueryValue } from "./platform-parsers.js";

const log = layerLogger("host");

/**
 * Files created when the OS is installed. Linux: the machine id file and the root file system's
 * lost+found (made by mkfs). macOS: the marker the setup assistant leaves, then the root volume.
 */
const LINUX_INSTALL_MARKERS = ["/etc/machine-id", "/lost+found", "/etc/hostname"];
const DARWIN_INSTALL_MARKERS = ["/var/db/.AppleSetupDone", "/"];

export interface OsInstallSources {
  platform: NodeJS.Platform;
  run: CommandRunner;
  commandTimeoutMs: number;
}

/**
 * An id that changes when the OS is reinstalled: a hash of the machine id and the install time
 * (birth time of an install marker, its change time where the file system has no birth time;
 * Windows: the InstallDate registry value). Without an install time it hashes the machine id alone.
 */
export async function readOsInstallId(machineId: string, sources: OsInstallSources): Promise<string> {
  const installedAtMs = await readInstallTime(sources);
  const digest = createHash("sha256").update(canonicalJson({ installedAtMs, machineId }), "utf8").digest("hex");
  return digest.slice(0, 32);
}

async function readInstallTime(sources: OsInstallSources): Promise<number | undefined> {
  if (sources.platform === "win32") {
    const output = await sources.run(
      "reg",
      ["query", "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", "/v", "InstallDate", "/reg:64"],
      sources.commandTimeoutMs,
    );
    const seconds = output === undefined ? undefined : parseRegQueryValue(output, "InstallDate");
    return seconds === undefined ? undefined : Number(seconds) * 1000;
  }
  return markerTime(sources.platform === "darwin" ? DARWIN_INSTALL_MARKERS : LINUX_INSTALL_MARKERS);
}

/** The first marker's birth time; when no marker has one, the first existing marker's change time. */
export async function markerTime(paths: readonly string[]): Promise<number | undefined> {
  let firstChangeTime: number | undefined;
  for (const path of paths) {
    try {
      const info = await stat(path);
      if (info.birthtimeMs > 0) return Math.trunc(info.birthtimeMs);
      firstChangeTime ??= Math.trunc(info.ctimeMs);
    } catch (error) {
      log.debug("install marker not readable", { path, error: (error as Error).message });
    }
  }
  return firstChangeTime;
}

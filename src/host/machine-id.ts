import { readFile } from "node:fs/promises";
import { layerLogger } from "../log.js";
import type { CommandRunner } from "./command.js";
import { HostProbeError } from "./errors.js";
import { parseIoregPlatformUuid, parseRegQueryValue } from "./platform-parsers.js";

const log = layerLogger("host");

/** systemd's machine id, then the D-Bus copy that older or non-systemd distributions keep. */
export const LINUX_MACHINE_ID_PATHS: readonly string[] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];
const BSD_MACHINE_ID_PATHS: readonly string[] = [...LINUX_MACHINE_ID_PATHS, "/etc/hostid"];

export interface MachineIdSources {
  platform: NodeJS.Platform;
  run: CommandRunner;
  commandTimeoutMs: number;
  /** Overrides the files read on Linux and other Unix systems. */
  machineIdPaths?: readonly string[];
}

/** The OS's stable machine identifier; throws HostProbeError when none can be read, since nothing can be bound without it. */
export async function readMachineId(sources: MachineIdSources): Promise<string> {
  const { platform } = sources;
  let machineId: string | undefined;
  if (platform === "darwin") {
    const output = await sources.run("ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"], sources.commandTimeoutMs);
    machineId = output === undefined ? undefined : parseIoregPlatformUuid(output);
  } else if (platform === "win32") {
    const output = await sources.run(
      "reg",
      ["query", "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid", "/reg:64"],
      sources.commandTimeoutMs,
    );
    machineId = output === undefined ? undefined : parseRegQueryValue(output, "MachineGuid")?.toLowerCase();
  } else {
    const paths = sources.machineIdPaths ?? (platform === "linux" ? LINUX_MACHINE_ID_PATHS : BSD_MACHINE_ID_PATHS);
    machineId = await readFirstMachineIdFile(paths);
  }
  if (machineId === undefined) {
    throw new HostProbeError(`cannot read the machine id on ${platform}`, { details: { platform } });
  }
  return machineId;
}

async function readFirstMachineIdFile(paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) {
    try {
      const content = (await readFile(path, "utf8")).trim().toLowerCase();
      // systemd writes "uninitialized" until first boot completes; that is not an identity.
      if (content !== "" && content !== "uninitialized") return content;
      log.debug("machine id file is empty or uninitialized", { path });
    } catch (error) {
      log.debug("machine id file not readable", { path, error: (error as Error).message });
    }
  }
  return undefined;
}

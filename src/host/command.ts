import { execFile } from "node:child_process";
import { layerLogger } from "../log.js";

const log = layerLogger("host");

/** Runs an external program without a shell; resolves its stdout, or undefined when it fails. */
export type CommandRunner = (file: string, args: readonly string[], timeoutMs: number) => Promise<string | undefined>;

export const runCommand: CommandRunner = (file, args, timeoutMs) =>
  new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { timeout: timeoutMs, killSignal: "SIGKILL", shell: false, windowsHide: true, maxBuffer: 1 << 20 },
      (error, stdout) => {
        if (error) {
          // Absent tools are the normal case on most hosts (no CodeMeter, no dpkg): debug, not warn.
          log.debug("host probe command failed", { file, args, error: error.message });
          resolve(undefined);
          return;
        }
        resolve(stdout);
      },
    );
  });

import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { parseDuration } from "../config/duration.js";
import type { ApiClient } from "./client.js";
import { CliFileError } from "./errors.js";
import type { CliIo } from "./io.js";

export interface CliDeps {
  /** Runs the daemon until a signal; resolves with the exit code. Loaded lazily so other commands stay light. */
  serve?: (config: Parameters<typeof import("../server/daemon.js").runDaemonUntilSignal>[0]) => Promise<number>;
  /**
   * The node-hid/usb backend the local commands (`codemeter capture`) list USB devices with, in
   * the transport's HidBackend shape; default the real one. Tests give the virtual bus's.
   */
  usbBackend?: () => Promise<object>;
}

export interface GlobalOptions {
  dataDir?: string;
  url?: string;
  json?: boolean;
  config?: string;
}

/** What every command's registration needs from the program it is added to. */
export interface CommandKit {
  readonly io: CliIo;
  readonly deps: CliDeps;
  /** `exitCode` carries results such as 3 (preflight says unsafe). */
  readonly state: { exitCode: number };
  out(text: string): void;
  globals(command: Command): GlobalOptions;
  /** The daemon's API, found from the global options and the environment. */
  client(command: Command): ApiClient;
  /** Prints JSON with --json, else the human text. */
  show<T>(command: Command, value: T, text: (value: T) => string): void;
}

export const integer =
  (what: string, min = 0, max?: number) =>
  (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || (max !== undefined && n > max)) {
      const range = max === undefined ? `≥ ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`${what} must be an integer ${range}, got '${value}'`);
    }
    return n;
  };

export const duration = (value: string) => {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

export function example(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((line) => `  $ ${line}`).join("\n")}\n`;
}

export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new CliFileError("FILE_UNREADABLE", `cannot read ${file}: ${(error as Error).message}`, file, error);
  }
}

/**
 * Writes a file only its owner can read, also when FILE already exists with a wider mode (a
 * plain write would keep that mode): a fresh 0600 file beside it is renamed over it.
 */
export function writePrivateFile(file: string, text: string): void {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o600, flag: "wx" });
    renameSync(temporary, file);
  } catch (error) {
    let leftover = "";
    try {
      rmSync(temporary, { force: true });
    } catch (cleanupError) {
      // The write error is the one to report; the leftover is named in its message.
      leftover = `; ${temporary} is left behind (${(cleanupError as Error).message})`;
    }
    const message = `cannot write ${file}: ${(error as Error).message}${leftover}`;
    throw new CliFileError("FILE_UNWRITABLE", message, file, error);
  }
}

/** The configuration loader pulls in TypeBox: loaded by the commands that need it, so the others start faster. */
export async function loadConfig(...args: Parameters<typeof import("../config/load.js").loadConfig>) {
  return (await import("../config/load.js")).loadConfig(...args);
}

import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { layerLogger } from "../log.js";
import { HostStateCorruptError, HostStateIoError } from "./errors.js";

const log = layerLogger("host");

/** Reads and parses a JSON state file; undefined when it does not exist. */
export async function readJsonState(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new HostStateIoError(path, "read", { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HostStateCorruptError(path, "not valid JSON", { cause: error });
  }
}

/**
 * Writes a JSON state file atomically (temporary file, fsync, rename) with mode 0600: a crash
 * leaves either the old or the new content, never a torn file that would read as corrupt.
 */
export async function writeJsonState(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const handle = await open(temporary, "w", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(value)}\n`, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch((cleanupError: unknown) => {
      log.warn("cannot remove temporary state file", { path: temporary, error: (cleanupError as Error).message });
    });
    throw new HostStateIoError(path, "write", { cause: error });
  }
}

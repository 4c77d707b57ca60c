import { randomBytes } from "node:crypto";
import { open, readdir, rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errnoCode, mapFsError } from "./fs-errors.js";
import { discardFile, removeFile } from "./remove-file.js";

export interface AtomicWriteHooks {
  /** Runs after the temporary file is written and synced, before it replaces the target (crash tests). */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

function tempPrefix(target: string): string {
  return `.${basename(target)}.`;
}

/**
 * Replaces `target` so that a reader (or a crash) sees either the old or the new content, never
 * a mix: write a temp file in the same directory, fsync it, rename it over the target, fsync
 * the directory so the rename itself is durable.
 */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array,
  options: { mode: number; hooks?: AtomicWriteHooks },
): Promise<void> {
  const dir = dirname(target);
  const temp = join(dir, `${tempPrefix(target)}${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let renamed = false;
  try {
    const handle = await open(temp, "wx", options.mode).catch((error: unknown) => {
      throw mapFsError(error, "create a temporary file for", target);
    });
    try {
      await handle.writeFile(data);
      await handle.sync();
    } catch (error) {
      throw mapFsError(error, "write", temp);
    } finally {
      await handle.close();
    }
    await options.hooks?.beforeRename?.(temp);
    await rename(temp, target).catch((error: unknown) => {
      throw mapFsError(error, "replace", target);
    });
    renamed = true;
    await syncDirectory(dir);
  } finally {
    if (!renamed) await discardFile(temp, "a write that did not complete");
  }
}

export async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    // Some file systems cannot fsync a directory; the rename is still atomic there.
    const code = errnoCode(error);
    if (code !== "EINVAL" && code !== "ENOTSUP" && code !== "EISDIR") throw mapFsError(error, "sync directory", dir);
  } finally {
    await handle?.close();
  }
}

/**
 * Removes temp files a crashed writer left behind. Call only while holding the write lock: then
 * no other writer can be between its temp write and its rename.
 */
export async function removeLeftoverTemps(target: string): Promise<string[]> {
  const dir = dirname(target);
  const prefix = tempPrefix(target);
  const names = await readdir(dir).catch((error: unknown) => {
    throw mapFsError(error, "list", dir);
  });
  const leftovers = names.filter((name) => name.startsWith(prefix) && name.endsWith(".tmp"));
  for (const name of leftovers) await removeFile(join(dir, name), "remove leftover temporary file");
  return leftovers;
}

import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { layerLogger } from "../log.js";
import { RegistryLockedError } from "./errors.js";
import { errnoCode, mapFsError } from "./fs-errors.js";
import { discardFile, removeFile } from "./remove-file.js";

const log = layerLogger("registry");

/**
 * Inter-process write lock: a lock file created with O_CREAT|O_EXCL holding `pid`, `host` and a
 * random `token`. A lock whose pid is dead on this host is stale and taken over; one from another
 * host (shared disk) is never taken over automatically.
 */
export interface FileLockOptions {
  /** How long to wait for a live holder; default 5 s. */
  timeoutMs?: number;
  retryMs?: number;
  /** A lock file with unreadable content older than this is stale (its writer died mid-create); default 10 s. */
  unreadableStaleMs?: number;
  onStale?: (holder: LockHolder, lockPath: string) => void;
}

export interface LockHolder {
  pid?: number;
  host?: string;
  token?: string;
  since?: string;
}

export interface FileLock {
  readonly path: string;
  /** Resolves `false` when the lock file was no longer ours (another process judged it stale). */
  release(): Promise<boolean>;
}

export function parseLockContent(text: string): LockHolder {
  const holder: LockHolder = {};
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.split("=");
    const value = rest.join("=");
    if (key === "pid" && /^[0-9]+$/.test(value)) holder.pid = Number(value);
    else if (key === "host") holder.host = value;
    else if (key === "token") holder.token = value;
    else if (key === "since") holder.since = value;
  }
  return holder;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return errnoCode(error) === "EPERM";
  }
}

export async function acquireFileLock(lockPath: string, options: FileLockOptions = {}): Promise<FileLock> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const retryMs = options.retryMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  const token = randomBytes(12).toString("hex");
  const content = `pid=${process.pid}\nhost=${hostname()}\ntoken=${token}\nsince=${new Date().toISOString()}\n`;
  for (;;) {
    if (await tryCreate(lockPath, content)) {
      return { path: lockPath, release: () => releaseLock(lockPath, token) };
    }
    const holder = await readHolder(lockPath);
    if (holder !== undefined && (await isStale(lockPath, holder, options.unreadableStaleMs ?? 10_000))) {
      await breakStaleLock(lockPath, holder);
      options.onStale?.(holder, lockPath);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder?.pid === undefined ? "an unknown process" : `pid ${holder.pid} on ${holder.host ?? "?"}`;
      throw new RegistryLockedError(
        `Registry lock ${lockPath} is held by ${who} since ${holder?.since ?? "?"}; if that process is not keybridge or is gone, delete the lock file`,
        { details: { lockPath, holderPid: holder?.pid, holderHost: holder?.host } },
      );
    }
    await sleep(retryMs);
  }
}

/**
 * Writes the content to a private temp file first and links it into place: link() fails with
 * EEXIST atomically like O_EXCL, but the lock file never exists without its pid, so a writer
 * killed mid-create cannot leave an empty lock that blocks every writer until it ages out.
 */
async function tryCreate(lockPath: string, content: string): Promise<boolean> {
  const temp = `${lockPath}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(temp, "wx", 0o600);
  } catch (error) {
    throw mapFsError(error, "create the lock file", temp);
  }
  try {
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    await link(temp, lockPath);
    return true;
  } catch (error) {
    if (errnoCode(error) === "EEXIST") return false;
    throw mapFsError(error, "write the lock file", lockPath);
  } finally {
    await discardFile(temp, "the lock file's temporary name");
  }
}

/** `undefined` when the lock vanished meanwhile (retry at once). */
async function readHolder(lockPath: string): Promise<LockHolder | undefined> {
  try {
    return parseLockContent(await readFile(lockPath, "utf8"));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw mapFsError(error, "read the lock file", lockPath);
  }
}

async function isStale(lockPath: string, holder: LockHolder, unreadableStaleMs: number): Promise<boolean> {
  if (holder.pid === undefined || holder.token === undefined) {
    const info = await stat(lockPath).catch((error: unknown) => {
      // Gone meanwhile: not stale, the next attempt may simply take it.
      if (errnoCode(error) === "ENOENT") return undefined;
      throw mapFsError(error, "inspect the lock file", lockPath);
    });
    return info !== undefined && Date.now() - info.mtimeMs > unreadableStaleMs;
  }
  return holder.host === hostname() && !isProcessAlive(holder.pid);
}

/**
 * Moves the stale lock aside instead of deleting it, then checks that what was moved is the
 * stale lock: if another process replaced it in between, its fresh lock is put back.
 */
async function breakStaleLock(lockPath: string, stale: LockHolder): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return;
    throw mapFsError(error, "remove the stale lock file", lockPath);
  }
  const moved = parseLockContent(
    await readFile(aside, "utf8").catch((error: unknown) => {
      // Unknown content counts as somebody else's fresh lock below, so it is put back.
      log.warn("cannot read the lock file moved aside", { lockPath, aside, error: (error as Error).message });
      return "";
    }),
  );
  if (moved.token !== stale.token) {
    await link(aside, lockPath).catch((error: unknown) => {
      // Yet another writer holds the lock now; the one we moved learns it lost the lock on release.
      log.warn("cannot put back a fresh lock moved aside", {
        lockPath,
        holder: moved,
        error: errnoCode(error) ?? (error as Error).message,
      });
    });
  }
  await discardFile(aside, "the stale lock moved aside");
}

async function releaseLock(lockPath: string, token: string): Promise<boolean> {
  const holder = await readHolder(lockPath);
  // Never delete a lock that is no longer ours (someone judged ours stale and took over).
  if (holder?.token !== token) return false;
  await removeFile(lockPath, "remove the lock file");
  return true;
}

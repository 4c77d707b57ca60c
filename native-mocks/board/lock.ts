import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { BoardKeyError, BoardKeyErrorCode } from "./errors.js";

/**
 * One process at a time owns a key's state: the one serving it, or a command changing it (init,
 * wipe). The lock is a file beside the state holding the owner's pid, created exclusively; a
 * lock left by a process that died (power cut, SIGKILL) is taken over, since that process can
 * no longer write the state.
 */
export class StateLock {
  private constructor(private readonly path: string) {}

  static acquire(statePath: string, purpose: string): StateLock {
    const path = lockPath(statePath);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx", 0o600);
        try {
          writeSync(fd, `${process.pid}\n`);
        } finally {
          closeSync(fd);
        }
        return new StateLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new BoardKeyError(BoardKeyErrorCode.STATE_DIR_FAILED, `cannot create the lock ${path}`, {
            cause: error,
            details: { path, errno: (error as NodeJS.ErrnoException).code },
          });
        }
        const owner = lockOwner(statePath);
        if (owner !== undefined) {
          throw new BoardKeyError(
            BoardKeyErrorCode.SERVING,
            `the key at ${statePath} is in use by process ${owner}; stop it first (systemctl stop keybridge-key) ` +
              `before you ${purpose}`,
            { details: { pid: owner, statePath } },
          );
        }
        removeStale(path);
      }
    }
    throw new BoardKeyError(BoardKeyErrorCode.STATE_DIR_FAILED, `cannot take the lock ${path}`, { details: { path } });
  }

  release(): void {
    try {
      if (readFileSync(this.path, "utf8").trim() === String(process.pid)) unlinkSync(this.path);
    } catch {
      // Already gone (or taken over after this process was presumed dead): nothing of ours to remove.
    }
  }
}

export function lockPath(statePath: string): string {
  return `${statePath}.lock`;
}

/** The pid of a live process holding the key's lock, or undefined. */
export function lockOwner(statePath: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(lockPath(statePath), "utf8");
  } catch {
    // No lock file (or none readable): nobody holds the key.
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return isAlive(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists and belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function removeStale(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new BoardKeyError(BoardKeyErrorCode.STATE_DIR_FAILED, `cannot remove the stale lock ${path}`, {
        cause: error,
        details: { path },
      });
    }
  }
}

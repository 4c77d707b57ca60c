/**
 * What `serve` does before it loads the daemon's modules, kept in a module of its own so that
 * loading it costs little: it claims the data directory (its lock, before anything in it is read)
 * and starts the ledger's quick_check on a worker thread (see src/ledger/quick-check.ts).
 */
import { DataDirLock, prepareDataDir } from "../bridge/data-dir.js";
import { DataDirLockedError } from "../bridge/errors.js";
import { readDaemonInfo } from "./daemon-files.js";

export { startLedgerCheck } from "../ledger/quick-check.js";

/** The data directory, created and locked for this daemon. */
export interface ClaimedDataDir {
  lock: DataDirLock;
  /** The directory was made just now (0700). */
  created: boolean;
  /** Its permission bits. */
  mode: number;
}

/**
 * Creates the data directory and takes its lock, or throws DATA_DIR_LOCKED naming the daemon that
 * holds it: its pid and the URL from its daemon.json (the configured address until it listens).
 */
export function claimDataDir(dataDir: string, listen: string): ClaimedDataDir {
  const { created, mode } = prepareDataDir(dataDir);
  try {
    return { lock: DataDirLock.acquire(dataDir, { role: "daemon", address: listen }), created, mode };
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    const { holder } = error;
    const info = holder === undefined ? undefined : readDaemonInfoQuietly(dataDir);
    if (holder === undefined || info?.pid !== holder.pid) throw error;
    throw new DataDirLockedError(dataDir, { ...holder, address: info.url });
  }
}

function readDaemonInfoQuietly(dataDir: string): ReturnType<typeof readDaemonInfo> {
  try {
    return readDaemonInfo(dataDir);
  } catch {
    // The refusal stands without the URL; daemon.json is only a better address than the configured one.
    return undefined;
  }
}

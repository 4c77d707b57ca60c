import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { DEFAULT_FILE_NAME } from "./file-name.js";

/**
 * Starts SQLite's quick_check of `<dataDir>/ledger.db` on a worker thread and resolves whether it passed.
 * The daemon starts it before loading its modules, so on a second core the check, which grows with
 * the ledger's history, overlaps the module loading instead of adding to the time to ready
 * (`ready_ms_100k`). Resolves `false` when the
 * check failed or could not run (no worker, file missing): the ledger's open then checks inline.
 * The worker is unref'd: it never keeps the process alive.
 */
export function startLedgerCheck(dataDir: string): Promise<boolean> {
  const file = join(dataDir, DEFAULT_FILE_NAME);
  return new Promise<boolean>((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./quick-check-worker.js", import.meta.url), { workerData: { file } });
    } catch {
      // No worker (e.g. the sources run untranspiled): the open checks inline, as without this.
      resolve(false);
      return;
    }
    worker.unref();
    worker.once("message", (passed: unknown) => resolve(passed === true));
    worker.once("error", () => resolve(false));
    worker.once("exit", () => resolve(false));
  });
}

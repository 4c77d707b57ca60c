/**
 * Worker thread: doctor's read-only ledger check (`verifyLedgerIn`), so that a check still running
 * when its time is up can be stopped — better-sqlite3 blocks the thread it runs on. Posts the
 * result, or the typed error's code, message and details for the main thread to raise again.
 */
import { parentPort, workerData } from "node:worker_threads";
import { isCodedError } from "../../errors.js";

export type LedgerVerifyMessage =
  | { ok: true; outstanding: number }
  | { ok: false; code: string; message: string; details: Record<string, unknown> };

async function run(checkDir: string): Promise<LedgerVerifyMessage> {
  try {
    // Loaded here, on the worker thread: the ledger layer is never part of the CLI's start.
    const { verifyLedgerIn } = await import("../../ledger/index.js");
    return { ok: true, ...verifyLedgerIn(checkDir) };
  } catch (error) {
    return {
      ok: false,
      code: isCodedError(error) ? error.code : "LEDGER_IO",
      message: error instanceof Error ? error.message : String(error),
      details: (isCodedError(error) ? (error as { details?: Record<string, unknown> }).details : undefined) ?? {},
    };
  }
}

parentPort?.postMessage(await run((workerData as { checkDir: string }).checkDir));

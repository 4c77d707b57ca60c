import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type BorrowRow,
  DEFAULT_FILE_NAME,
  type Ledger,
  LedgerCorruptError,
  openLedger,
  quarantineAndCreate,
} from "../ledger/index.js";
import { layerLogger } from "../log.js";
import type { EventBus } from "./event-bus.js";

const log = layerLogger("bridge");

export interface OpenedLedger {
  ledger: Ledger;
  /** Verified outstanding rows, read once here so a row failing its checksum quarantines the ledger too. */
  outstanding: BorrowRow[];
  /**
   * The ledger file was missing at start while the key may hold borrows made under the lost one:
   * recovery adopts them instead of rolling them back (which would make Borrow Dummies).
   */
  fresh: boolean;
}

/**
 * Opens `<dataDir>/ledger.db`; a corrupt one is quarantined (renamed, never deleted) and a new one
 * created in its place, which recovery rebuilds from the keys and the registry. `check` is a
 * quick_check started earlier: when it passed, the open does not run it again.
 */
export async function openOrRebuildLedger(
  dataDir: string,
  events: Pick<EventBus, "emit">,
  check: Promise<boolean> | undefined,
): Promise<OpenedLedger> {
  const existed = existsSync(join(dataDir, DEFAULT_FILE_NAME));
  const quickCheckPassed = check === undefined ? false : await check;
  try {
    const ledger = openLedger({ dir: dataDir, quickCheckPassed });
    try {
      return { ledger, outstanding: ledger.listOutstanding(), fresh: !existed };
    } catch (error) {
      ledger.close();
      throw error;
    }
  } catch (error) {
    if (!(error instanceof LedgerCorruptError)) throw error;
    log.error("the ledger is corrupt; quarantining it and rebuilding from the key and the registry", {
      error: error.message,
    });
    const ledger = quarantineAndCreate({ dir: dataDir, reason: error.message });
    events.emit("ledger.rebuilt", `the ledger was corrupt (${error.message}); quarantined and rebuilt`, {
      details: { file: ledger.file },
    });
    return { ledger, outstanding: ledger.listOutstanding(), fresh: false };
  }
}

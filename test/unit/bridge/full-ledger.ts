import type { Ledger } from "../../../src/ledger/index.js";
import { LedgerDiskFullError } from "../../../src/ledger/index.js";

/**
 * Caps the ledger at its size now and fills what is left of the pages new rows go to: the meta
 * table (the health check's probe write) and the key's end of the borrows table. A write that
 * needs room then fails with SQLITE_FULL, as on a full disk.
 */
export function fillLedger(ledger: Ledger): void {
  ledger.capSize(ledger.sizeBytes());
  let n = 0;
  const until = (write: (size: number) => void, sizes: number[]) => {
    for (const size of sizes) {
      for (;;) {
        try {
          write(size);
          n++;
        } catch (error) {
          if (!(error instanceof LedgerDiskFullError)) throw error;
          break;
        }
      }
    }
  };
  until((size) => ledger.setMeta(`zz-filler-${n}`, "x".repeat(size)), [16_384, 2048, 256, 32, 1]);
  until((size) => ledger.audit({ kind: "filler", message: "x".repeat(size) }), [2048, 256, 32, 1]);
  until(
    (size) =>
      ledger.upsertBorrow({
        serial: "KB-DEMO-0001",
        id: 1_000_000_000 + n,
        opId: n.toString(16).padStart(32, "0"),
        product: 1,
        client: "f".repeat(size),
        issuedAt: 0,
        expiresAt: 1,
        binding: "00".repeat(32),
        tag: "00".repeat(16),
        state: "settled",
        dummyUntil: null,
        settleOpId: null,
        createdAt: 0,
        updatedAt: 0,
      }),
    [64, 16, 1],
  );
}

import { describe, expect, it } from "vitest";
import { openVirtual } from "./helpers.js";

const SERIAL = "KB-DEMO-0001";

describe("reconcile reads the closed ledger rows a key still names, and no others", () => {
  it("finds a borrow the ledger closed while the key holds it, reading that one closed row and no history", async () => {
    const bridge = await openVirtual({ registry: { kind: "memory" } });
    // History: borrows returned long ago, which no key or registry names any more.
    for (let i = 0; i < 20; i++) {
      const borrow = await bridge.borrow({ product: 1003, client: `old-${i}` });
      await bridge.returnBorrow(borrow.id);
    }
    const kept = await bridge.borrow({ product: 1001, client: "ws-kept" });
    expect((await bridge.reconcile()).findings.filter((f) => f.severity !== "info")).toEqual([]);

    // The ledger says returned; the key still holds the borrow.
    await bridge.testSeams.ledger.commit((tx) => tx.updateBorrowState(SERIAL, kept.id, { state: "returned" }));
    const reads = { getBorrow: 0, listBorrows: 0 };
    const ledger = bridge.testSeams.ledger;
    const getBorrow = ledger.getBorrow.bind(ledger);
    const listBorrows = ledger.listBorrows.bind(ledger);
    ledger.getBorrow = (serial, id) => {
      reads.getBorrow++;
      return getBorrow(serial, id);
    };
    ledger.listBorrows = (query) => {
      reads.listBorrows++;
      return listBorrows(query);
    };
    const report = await bridge.reconcile();
    expect(report.findings.map((f) => [f.kind, f.borrowId])).toContainEqual(["ledger-missing", kept.id]);
    expect(reads).toEqual({ getBorrow: 1, listBorrows: 0 });
  });
});

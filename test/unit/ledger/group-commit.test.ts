import { describe, expect, it } from "vitest";
import { LedgerClosedError, LedgerDuplicateError, openLedger } from "../../../src/ledger/index.js";
import { openTracked, sampleBorrow, tempDir, track } from "./helpers.js";

describe("group commit", () => {
  it("commits N writes queued in one turn in a single SQLite transaction", async () => {
    const ledger = openTracked({ dir: tempDir() });
    const before = ledger.stats();
    const writes = Array.from({ length: 64 }, (_, index) =>
      ledger.commit((tx) => tx.insertBorrow(sampleBorrow({ serial: "KB-GC", id: index + 1 })).id),
    );
    const ids = await Promise.all(writes);
    const after = ledger.stats();
    expect(ids).toEqual(Array.from({ length: 64 }, (_, index) => index + 1));
    expect(after.commits - before.commits).toBe(1);
    expect(after.groupedWrites - before.groupedWrites).toBe(64);
    expect(ledger.listBorrows({ serial: "KB-GC" })).toHaveLength(64);
  });

  it("uses a new transaction for writes queued in a later turn", async () => {
    const ledger = openTracked({ dir: tempDir() });
    const before = ledger.stats().commits;
    await ledger.commit((tx) => tx.insertBorrow(sampleBorrow()));
    await ledger.commit((tx) => tx.insertBorrow(sampleBorrow()));
    expect(ledger.stats().commits - before).toBe(2);
  });

  it("rolls back only the closure that threw; the others commit", async () => {
    const ledger = openTracked({ dir: tempDir() });
    const kept = sampleBorrow({ serial: "KB-F", id: 1 });
    const ok = ledger.commit((tx) => tx.insertBorrow(kept));
    const failing = ledger.commit((tx) => {
      tx.insertBorrow(sampleBorrow({ serial: "KB-F", id: 2 }));
      throw new Error("closure failed after writing");
    });
    const duplicate = ledger.commit((tx) => tx.insertBorrow({ ...kept, opId: "00".repeat(16) }));
    const alsoOk = ledger.commit((tx) => tx.insertBorrow(sampleBorrow({ serial: "KB-F", id: 3 })));
    const results = await Promise.allSettled([ok, failing, duplicate, alsoOk]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toHaveProperty("message", "closure failed after writing");
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(LedgerDuplicateError);
    expect(ledger.listBorrows({ serial: "KB-F" }).map((row) => row.id)).toEqual([1, 3]);
    expect(ledger.stats().failedWrites).toBe(2);
  });

  it("rejects a closure that returns a promise and keeps nothing it wrote", async () => {
    const ledger = openTracked({ dir: tempDir() });
    const asyncWork = ledger.commit(async (tx) => tx.insertBorrow(sampleBorrow({ serial: "KB-A", id: 1 })));
    await expect(asyncWork).rejects.toMatchObject({ code: "LEDGER_INVALID_INPUT" });
    expect(ledger.listBorrows({ serial: "KB-A" })).toEqual([]);
  });

  it("settles only after the data is durable: a reopen sees every resolved write", async () => {
    const dir = tempDir();
    const ledger = openLedger({ dir });
    await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        ledger.commit((tx) => tx.insertBorrow(sampleBorrow({ serial: "KB-D", id: index }))),
      ),
    );
    ledger.close();
    expect(track(openLedger({ dir })).listBorrows({ serial: "KB-D" })).toHaveLength(10);
  });

  it("flushes queued writes on close and refuses writes afterwards", async () => {
    const dir = tempDir();
    const ledger = openLedger({ dir });
    const queued = ledger.commit((tx) => tx.insertBorrow(sampleBorrow({ serial: "KB-C", id: 1 })));
    ledger.close();
    await expect(queued).resolves.toMatchObject({ id: 1 });
    await expect(ledger.commit(() => 1)).rejects.toBeInstanceOf(LedgerClosedError);
    expect(() => ledger.listOutstanding()).toThrow(LedgerClosedError);
    expect(track(openLedger({ dir })).listBorrows({ serial: "KB-C" })).toHaveLength(1);
  });

  it("counts one commit per synchronous transaction, however many statements it runs", () => {
    const ledger = openTracked({ dir: tempDir() });
    const before = ledger.stats().commits;
    ledger.transaction((tx) => {
      tx.insertBorrow(sampleBorrow());
      tx.insertBorrow(sampleBorrow());
      tx.audit({ kind: "borrow", message: "two borrows" });
    });
    expect(ledger.stats().commits - before).toBe(1);
    expect(() =>
      ledger.transaction((tx) => {
        tx.insertBorrow(sampleBorrow({ serial: "KB-T", id: 1 }));
        throw new Error("abort");
      }),
    ).toThrow("abort");
    expect(ledger.listBorrows({ serial: "KB-T" })).toEqual([]);
  });
});

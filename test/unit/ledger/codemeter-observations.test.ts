import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openLedger } from "../../../src/ledger/index.js";
import { sampleBorrow, tempDir, track } from "./helpers.js";

// SYNTHETIC observation values (ids built from CodeMeter's documented id shapes).

function observation(key: string, status: string, statusAt: number) {
  return {
    key,
    borrowId: key.split("|")[0]!,
    serial: "2-1500002",
    status,
    statusAt,
    client: "ws-1",
    nested: { host: { ips: ["10.0.0.5"] } },
  };
}

const audit = (borrowId: string) => ({
  kind: "codemeter-borrow-seen",
  at: 1_700_000_000_000,
  borrowId,
  serial: "2-1500002",
  message: `CodeMeter borrow ${borrowId} seen when it was borrowed`,
  details: { source: "codemeter", borrowId },
});

describe("CodeMeter observations in the ledger", () => {
  it("keep across a reopen, apart from keybridge's borrows, with audit entries", () => {
    const dir = tempDir();
    const first = openLedger({ dir });
    first.insertBorrow(sampleBorrow());
    const store = first.codeMeterObservations();
    // The ledger keeps whatever fields the observation has (the mode's own shape), not only the ones it selects by.
    const license = { licenseId: "2-1500002-10-1", productCode: 1001 };
    store.save({
      borrows: [observation("3-1-10-0|never", "outstanding", 5), observation("3-1-10-1|never", "gone", 10)],
      licenses: [license],
      facts: { version: 1, scopes: { all: { lastStart: 3 } } },
      audit: [audit("3-1-10-0")],
    });
    store.save({ borrows: [observation("3-1-10-0|never", "missing", 20)], licenses: [], audit: [] });
    first.close();

    const second = track(openLedger({ dir }));
    const loaded = second.codeMeterObservations().load({ goneSinceMs: 0 });
    expect(loaded.damaged).toBe(0);
    expect(loaded.borrows).toEqual([
      observation("3-1-10-0|never", "missing", 20),
      observation("3-1-10-1|never", "gone", 10),
    ]);
    expect(loaded.licenses).toEqual([{ licenseId: "2-1500002-10-1", productCode: 1001 }]);
    expect(loaded.facts).toEqual({ version: 1, scopes: { all: { lastStart: 3 } } });
    // Ended ones older than asked for stay in the table but are not loaded.
    expect(second.codeMeterObservations().load({ goneSinceMs: 11 }).borrows).toHaveLength(1);
    expect(second.listOutstanding()).toHaveLength(1);
    expect(second.listOutstanding()[0]?.serial).toBe("KB-0001");
    const entries = second.listAudit({ kind: "codemeter-borrow-seen", limit: 10 });
    expect(entries).toEqual([
      expect.objectContaining({
        serial: "2-1500002",
        borrowId: null,
        details: { source: "codemeter", borrowId: "3-1-10-0" },
      }),
    ]);
  });

  it("leave out a row whose checksum does not hold, and count it", () => {
    const dir = tempDir();
    const ledger = openLedger({ dir });
    ledger.codeMeterObservations().save({
      borrows: [observation("a|never", "outstanding", 1), observation("b|never", "outstanding", 1)],
      licenses: [],
      audit: [],
    });
    ledger.close();
    const db = new Database(join(dir, "ledger.db"));
    db.prepare("UPDATE codemeter_borrows SET data = replace(data, 'ws-1', 'ws-9') WHERE key = 'a|never'").run();
    db.close();
    const reopened = track(openLedger({ dir }));
    const loaded = reopened.codeMeterObservations().load({ goneSinceMs: 0 });
    expect(loaded.damaged).toBe(1);
    expect(loaded.borrows).toEqual([observation("b|never", "outstanding", 1)]);
  });

  it("a ledger of schema 2 is migrated: the tables appear and nothing else changes", () => {
    const dir = tempDir();
    const ledger = openLedger({ dir });
    const borrow = ledger.insertBorrow(sampleBorrow());
    ledger.close();
    const db = new Database(join(dir, "ledger.db"));
    db.exec("DROP TABLE codemeter_borrows; DROP TABLE codemeter_licenses; DROP TABLE codemeter_facts;");
    db.pragma("user_version = 2");
    db.close();
    const migrated = track(openLedger({ dir }));
    expect(migrated.getBorrow(borrow.serial, borrow.id)).toEqual(borrow);
    expect(migrated.codeMeterObservations().load({ goneSinceMs: 0 })).toEqual({
      borrows: [],
      licenses: [],
      facts: null,
      damaged: 0,
    });
  });
});

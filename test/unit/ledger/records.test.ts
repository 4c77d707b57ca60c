import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BorrowRow,
  LedgerDuplicateError,
  LedgerInvalidInputError,
  LedgerKeyPinnedError,
  LedgerNotFoundError,
  openLedger,
} from "../../../src/ledger/index.js";
import { hex, manualClock, openTracked, sampleBorrow, tempDir, track } from "./helpers.js";

describe("key pinning", () => {
  it("pins at first sight, accepts the same key again, refuses a different one", () => {
    const ledger = openTracked({ dir: tempDir() });
    expect(ledger.getPinnedKey("KB-1")).toBeUndefined();
    const pinned = ledger.pinKey("KB-1", "11".repeat(32), 100);
    expect(pinned).toEqual({
      serial: "KB-1",
      publicKey: "11".repeat(32),
      firstSeen: 100,
      lastSeen: 100,
      lastBinding: null,
      licenseSetVersion: null,
    });
    expect(ledger.pinKey("KB-1", "11".repeat(32), 200)).toEqual(pinned);
    expect(() => ledger.pinKey("KB-1", "22".repeat(32), 300)).toThrow(LedgerKeyPinnedError);
    expect(ledger.getPinnedKey("KB-1")?.publicKey).toBe("11".repeat(32));
  });

  it("touches last seen, binding and license-set version, keeping fields not given", () => {
    const ledger = openTracked({ dir: tempDir() });
    ledger.pinKey("KB-1", "11".repeat(32), 100);
    const binding = hex(32);
    ledger.touchKey("KB-1", { lastSeen: 200, lastBinding: binding, licenseSetVersion: 3 });
    const touched = ledger.touchKey("KB-1", { lastSeen: 300 });
    expect(touched).toMatchObject({ lastSeen: 300, lastBinding: binding, licenseSetVersion: 3, firstSeen: 100 });
    expect(() => ledger.touchKey("KB-404", { lastSeen: 1 })).toThrow(LedgerNotFoundError);
  });

  it("lists keys by serial and replaces a pin only when asked", () => {
    const ledger = openTracked({ dir: tempDir() });
    ledger.pinKey("KB-2", "22".repeat(32), 1);
    ledger.pinKey("KB-1", "11".repeat(32), 1);
    expect(ledger.listKeys().map((key) => key.serial)).toEqual(["KB-1", "KB-2"]);
    ledger.replacePinnedKey("KB-1", "33".repeat(32), 5);
    expect(ledger.getPinnedKey("KB-1")?.publicKey).toBe("33".repeat(32));
  });

  it("rejects malformed public keys", () => {
    const ledger = openTracked({ dir: tempDir() });
    expect(() => ledger.pinKey("KB-1", "AB".repeat(32), 1)).toThrow(LedgerInvalidInputError);
    expect(() => ledger.pinKey("KB-1", "ab".repeat(31), 1)).toThrow(LedgerInvalidInputError);
  });
});

describe("borrows", () => {
  it("inserts, reads back by key and by opId, and fills timestamps from the clock", () => {
    const clock = manualClock(5_000);
    const ledger = track(openLedger({ dir: tempDir(), clock: clock.now }));
    const row = ledger.insertBorrow(sampleBorrow({ id: 42 }));
    expect(row.createdAt).toBe(5_000);
    expect(row.updatedAt).toBe(5_000);
    expect(row.dummyUntil).toBeNull();
    expect(ledger.getBorrow(row.serial, 42)).toEqual(row);
    expect(ledger.getBorrowByOpId(row.opId)).toEqual(row);
    expect(ledger.getBorrow(row.serial, 43)).toBeUndefined();
  });

  it("refuses a second borrow with the same (serial, id) or the same opId", () => {
    const ledger = openTracked({ dir: tempDir() });
    const row = ledger.insertBorrow(sampleBorrow({ id: 1 }));
    expect(() => ledger.insertBorrow(sampleBorrow({ id: 1 }))).toThrow(LedgerDuplicateError);
    expect(() => ledger.insertBorrow(sampleBorrow({ id: 2, opId: row.opId }))).toThrow(LedgerDuplicateError);
    expect(ledger.countByState().active).toBe(1);
  });

  it("rejects rows that break the contract instead of storing them", () => {
    const ledger = openTracked({ dir: tempDir() });
    expect(() => ledger.insertBorrow(sampleBorrow({ tag: "xyz" }))).toThrow(LedgerInvalidInputError);
    expect(() => ledger.insertBorrow(sampleBorrow({ id: 2 ** 53 }))).toThrow(LedgerInvalidInputError);
    expect(() => ledger.insertBorrow(sampleBorrow({ client: "x".repeat(65) }))).toThrow(LedgerInvalidInputError);
    expect(() => ledger.insertBorrow(sampleBorrow({ state: "lost" as BorrowRow["state"] }))).toThrow(
      LedgerInvalidInputError,
    );
    expect(ledger.listBorrows()).toEqual([]);
  });

  it("updates state with a patch and stamps updatedAt", () => {
    const clock = manualClock(1_000);
    const ledger = track(openLedger({ dir: tempDir(), clock: clock.now }));
    const row = ledger.insertBorrow(sampleBorrow());
    clock.advance(10);
    const settleOpId = hex(16);
    const next = ledger.updateBorrowState(row.serial, row.id, { state: "dummy", dummyUntil: 99, settleOpId });
    expect(next).toEqual({ ...row, state: "dummy", dummyUntil: 99, settleOpId, updatedAt: 1_010 });
    expect(ledger.getBorrow(row.serial, row.id)).toEqual(next);
    expect(() => ledger.updateBorrowState(row.serial, 9_999_999, { state: "returned" })).toThrow(LedgerNotFoundError);
  });

  it("lists outstanding borrows (active, returning, dummy) and filters, pages and counts the rest", () => {
    const ledger = openTracked({ dir: tempDir() });
    const states = ["active", "returning", "returned", "settled", "rolled-back", "dummy"] as const;
    const rows = states.map((state, index) => ledger.insertBorrow(sampleBorrow({ id: 100 + index, state })));
    ledger.insertBorrow(sampleBorrow({ serial: "KB-0002", id: 1, state: "active" }));
    expect(
      ledger
        .listOutstanding()
        .filter((row) => row.serial === "KB-0001")
        .map((row) => row.state),
    ).toEqual(["active", "returning", "dummy"]);
    expect(ledger.listOutstanding()).toHaveLength(4);
    expect(ledger.listBorrows({ serial: "KB-0002" })).toHaveLength(1);
    expect(ledger.listBorrows({ states: ["returned", "settled"] }).map((row) => row.id)).toEqual([102, 103]);
    expect(ledger.listBorrows({ serial: "KB-0001", limit: 2, offset: 1 })).toEqual([rows[1], rows[2]]);
    expect(ledger.listBorrows({ states: [] })).toEqual([]);
    expect(ledger.countByState()).toEqual({
      active: 2,
      returning: 1,
      returned: 1,
      settled: 1,
      "rolled-back": 1,
      dummy: 1,
    });
  });

  it("reads back exactly what was written, for any valid row", () => {
    const ledger = openTracked({ dir: tempDir() });
    const hexOf = (bytes: number) =>
      fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"));
    const time = fc.integer({ min: 0, max: 2 ** 48 });
    let id = 0;
    fc.assert(
      fc.property(
        fc.record({
          serial: fc.string({ minLength: 1, maxLength: 20 }),
          opId: hexOf(16),
          product: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          client: fc.string({ maxLength: 16 }),
          issuedAt: time,
          expiresAt: time,
          binding: hexOf(32),
          tag: hexOf(16),
          state: fc.constantFrom("active", "returning", "returned", "settled", "rolled-back", "dummy" as const),
          dummyUntil: fc.option(time, { nil: null }),
        }),
        (fields) => {
          const row = ledger.insertBorrow({ ...fields, id: ++id });
          expect(ledger.getBorrow(fields.serial, id)).toEqual(row);
          expect(row).toMatchObject(fields);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("operation journal", () => {
  it("runs begin → advance → finish and drops the op from the pending list", () => {
    const clock = manualClock(10);
    const ledger = track(openLedger({ dir: tempDir(), clock: clock.now }));
    const opId = hex(16);
    const begun = ledger.beginOp({ opId, kind: "borrow", serial: "KB-1", details: { product: 7 } });
    expect(begun).toMatchObject({ step: "begun", outcome: "pending", startedAt: 10, finishedAt: null });
    expect(ledger.listPendingOps().map((op) => op.opId)).toEqual([opId]);

    ledger.advanceOp(opId, "key-borrowed", { borrowId: 5 });
    expect(ledger.getOp(opId)).toMatchObject({ step: "key-borrowed", details: { product: 7, borrowId: 5 } });

    clock.advance(5);
    const done = ledger.finishOp(opId, "done");
    expect(done).toMatchObject({ outcome: "done", finishedAt: 15, errorCode: null });
    expect(ledger.listPendingOps()).toEqual([]);
    expect(ledger.finishOp(opId, "done")).toEqual(done);
  });

  it("records the error code of a failed op and refuses to move a finished op", () => {
    const ledger = openTracked({ dir: tempDir() });
    const opId = hex(16);
    ledger.beginOp({ opId, kind: "return", serial: "KB-1", borrowId: 3 });
    ledger.finishOp(opId, "failed", "KEY_DISCONNECTED");
    expect(ledger.getOp(opId)).toMatchObject({ outcome: "failed", errorCode: "KEY_DISCONNECTED", borrowId: 3 });
    expect(() => ledger.advanceOp(opId, "late")).toThrow(expect.objectContaining({ code: "LEDGER_OP_FINISHED" }));
    expect(() => ledger.finishOp(opId, "done")).toThrow(expect.objectContaining({ code: "LEDGER_OP_FINISHED" }));
    expect(() => ledger.beginOp({ opId, kind: "return", serial: "KB-1" })).toThrow(LedgerDuplicateError);
    expect(() => ledger.advanceOp(hex(16), "x")).toThrow(LedgerNotFoundError);
  });

  it("keeps pending ops across a reopen, oldest first", () => {
    const dir = tempDir();
    const clock = manualClock(100);
    const ledger = openLedger({ dir, clock: clock.now });
    const late = hex(16);
    const early = hex(16);
    ledger.beginOp({ opId: late, kind: "rebind", serial: "KB-1", startedAt: 200 });
    ledger.beginOp({ opId: early, kind: "settle-expired", serial: "KB-1", startedAt: 150 });
    ledger.close();
    const reopened = track(openLedger({ dir }));
    expect(reopened.listPendingOps().map((op) => op.opId)).toEqual([early, late]);
  });
});

describe("audit", () => {
  it("appends entries and lists them newest first, by kind and since a time", () => {
    const ledger = openTracked({ dir: tempDir(), clock: manualClock(0).now });
    ledger.audit({ kind: "borrow", at: 10, serial: "KB-1", borrowId: 1, message: "borrowed", details: { a: 1 } });
    ledger.audit({ kind: "counterfeit-key", at: 20, serial: "KB-9", message: "key refused" });
    ledger.audit({ kind: "borrow", at: 30, serial: "KB-1", borrowId: 2, message: "borrowed again" });
    const borrows = ledger.listAudit({ kind: "borrow", limit: 10 });
    expect(borrows.map((entry) => entry.borrowId)).toEqual([2, 1]);
    expect(borrows[1]?.details).toEqual({ a: 1 });
    expect(ledger.listAudit({ since: 20, limit: 10 }).map((entry) => entry.at)).toEqual([30, 20]);
    expect(ledger.listAudit({ limit: 1 })[0]?.message).toBe("borrowed again");
  });

  it("filters by key and pages backwards from an entry id without skipping or repeating one", () => {
    const ledger = openTracked({ dir: tempDir(), clock: manualClock(0).now });
    for (let i = 1; i <= 7; i++) {
      ledger.audit({ kind: "repair", at: i, serial: i % 2 === 0 ? "KB-EVEN" : "KB-ODD", message: `repair ${i}` });
    }
    expect(ledger.listAudit({ serial: "KB-EVEN", limit: 10 }).map((entry) => entry.at)).toEqual([6, 4, 2]);
    const pages: number[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = ledger.listAudit({ kind: "repair", limit: 3, ...(before === undefined ? {} : { before }) });
      if (page.length === 0) break;
      pages.push(page.map((entry) => entry.at));
      before = page.at(-1)?.id;
    }
    expect(pages).toEqual([[7, 6, 5], [4, 3, 2], [1]]);
    expect(() => ledger.listAudit({ before: 1.5, limit: 3 })).toThrow();
  });
});

describe("tags", () => {
  it("derives the tag as HMAC-SHA256(secret, context || opId) truncated to 16 bytes", async () => {
    const { createHmac } = await import("node:crypto");
    const ledger = openTracked({ dir: tempDir() });
    const opId = Buffer.from(hex(16), "hex");
    const expected = createHmac("sha256", ledger.serverSecret())
      .update(Buffer.concat([Buffer.from("keybridge-tag-v1"), opId]))
      .digest()
      .subarray(0, 16);
    expect(ledger.deriveTag(opId).equals(expected)).toBe(true);
    expect(ledger.deriveTag(opId.toString("hex")).equals(expected)).toBe(true);
    expect(() => ledger.deriveTag(Buffer.alloc(15))).toThrow(LedgerInvalidInputError);
  });

  it("gives different tags on ledgers with different secrets, the same after reopen", () => {
    const dir = tempDir();
    const opId = Buffer.from(hex(16), "hex");
    const first = openLedger({ dir });
    const tag = first.deriveTag(opId);
    first.close();
    expect(track(openLedger({ dir })).deriveTag(opId).equals(tag)).toBe(true);
    expect(openTracked({ dir: tempDir() }).deriveTag(opId).equals(tag)).toBe(false);
  });
});

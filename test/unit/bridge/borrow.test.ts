import { describe, expect, it, vi } from "vitest";
import { BORROWS_PATH } from "../../../src/registry/index.js";
import { demoKey, openVirtual } from "./helpers.js";

const DAY = 24 * 60 * 60 * 1000;

async function snapshot(bridge: Awaited<ReturnType<typeof openVirtual>>) {
  await bridge.testSeams.mirror.flush();
  return {
    key: demoKey(bridge).state.borrows.map((b) => ({ id: b.id, state: b.state })),
    ledger: bridge.testSeams.ledger.listBorrows().map((row) => ({ id: row.id, state: row.state })),
    registry: await bridge.testSeams.registry.readTree(BORROWS_PATH),
  };
}

describe("borrow and return", () => {
  it("a borrow is recorded in the key, the ledger and the registry, and a return removes it from all three", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-01", days: 7 });
    expect(borrow).toMatchObject({ serial: "KB-DEMO-0001", product: 1001, client: "ws-01", state: "active" });
    expect(Date.parse(borrow.expiresAt) - Date.parse(borrow.issuedAt)).toBe(7 * DAY);
    const keyRecords = demoKey(bridge).state.borrows;
    expect(keyRecords.map((b) => b.id)).toEqual([borrow.id]);
    expect((await bridge.getBorrow(borrow.id, { serial: "KB-DEMO-0001" })).state).toBe("active");
    await bridge.testSeams.mirror.flush();
    const tree = await bridge.testSeams.registry.readTree(`${BORROWS_PATH}\\KB-DEMO-0001\\${borrow.id}`);
    expect(tree?.values.Client).toEqual({ type: "string", value: "ws-01" });
    const tag = tree?.values.Tag;
    expect(tag?.type).toBe("binary");
    expect(Buffer.from(tag?.value as Uint8Array).toString("hex")).toBe(
      bridge.testSeams.ledger.getBorrow("KB-DEMO-0001", borrow.id)?.tag,
    );
    const keys = await bridge.keys();
    expect(keys[0]?.licenses.find((l) => l.product === 1001)?.borrowed).toBe(1);

    const result = await bridge.returnBorrow(borrow.id);
    expect(result.outcome).toBe("returned");
    expect(demoKey(bridge).state.borrows).toEqual([]);
    expect(bridge.testSeams.ledger.getBorrow("KB-DEMO-0001", borrow.id)?.state).toBe("returned");
    await bridge.testSeams.mirror.flush();
    expect(await bridge.testSeams.registry.readTree(`${BORROWS_PATH}\\KB-DEMO-0001\\${borrow.id}`)).toBeUndefined();
    expect(await bridge.borrows()).toEqual([]);
  });

  it("settles an expired borrow in key time, before the key would make it a dummy", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1002, client: "laptop-7", days: 2 });
    expect((await bridge.getBorrow(borrow.id)).state).toBe("active");
    const settled: string[] = [];
    bridge.events$.subscribe((event) => {
      if (event.type === "borrow.settled") settled.push(String(event.borrow?.id));
    });
    await bridge.virtual?.advanceClock(2 * DAY + 60_000);
    expect(settled).toEqual([String(borrow.id)]);
    expect(demoKey(bridge).state.borrows).toEqual([]);
    expect(bridge.testSeams.ledger.getBorrow("KB-DEMO-0001", borrow.id)?.state).toBe("settled");
    expect((await bridge.status()).dummies).toEqual([]);
  });

  it("shows an expired borrow it cannot settle as expired", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1002, client: "laptop-7", days: 1 });
    await bridge.virtual?.setHost({ ip: "198.51.100.7" });
    await bridge.virtual?.advanceClock(DAY + 60_000);
    expect((await bridge.getBorrow(borrow.id)).state).toBe("expired");
    expect(demoKey(bridge).state.borrows.map((b) => b.state)).toEqual(["active"]);
  });
});

describe("an answer that fails its signature check", () => {
  it("is never used: no ledger row is ever written, and the key's borrow is undone", async () => {
    const bridge = await openVirtual();
    // Byte 40 of the answer's first report lies inside the record's binding: it still decodes.
    demoKey(bridge).injectFault({ kind: "corrupt", direction: "toHost", nth: 1, byteIndex: 40 });
    // Every borrow row the ledger inserts, whatever happens to it later.
    const inserted: number[] = [];
    const { ledger } = bridge.testSeams;
    const commit = ledger.commit.bind(ledger);
    // Works committed together share one transaction object: it is wrapped once.
    const wrapped = new WeakSet<object>();
    vi.spyOn(ledger, "commit").mockImplementation((work) =>
      commit((tx) => {
        if (wrapped.has(tx)) return work(tx);
        wrapped.add(tx);
        const insert = tx.insertBorrow.bind(tx);
        tx.insertBorrow = (row) => {
          const written = insert(row);
          inserted.push(written.id);
          return written;
        };
        return work(tx);
      }),
    );
    const created: string[] = [];
    bridge.events$.subscribe((event) => {
      if (event.type === "borrow.created") created.push(String(event.borrow?.id));
    });

    await expect(bridge.borrow({ product: 1001, client: "ws-forged" })).rejects.toMatchObject({
      code: "PROTOCOL_BAD_SIGNATURE",
    });

    await vi.waitFor(() => expect(demoKey(bridge).state.borrows).toEqual([]));
    expect(inserted).toEqual([]);
    expect(ledger.listBorrows()).toEqual([]);
    expect(await bridge.borrows()).toEqual([]);
    expect(created).toEqual([]);
    // The key had made the borrow (only its answer was damaged): it was settled with our tag.
    await vi.waitFor(async () =>
      expect((await bridge.audit({ kind: "rollback", limit: 10 })).map((entry) => entry.borrowId)).toHaveLength(1),
    );
    await bridge.testSeams.mirror.flush();
    expect(await bridge.testSeams.registry.readTree(BORROWS_PATH)).toBeUndefined();
    // The key keeps working, and its seat counts are right.
    const next = await bridge.borrow({ product: 1001, client: "ws-next" });
    expect(next.state).toBe("active");
    expect(inserted).toEqual([next.id]);
    await vi.waitFor(async () =>
      expect((await bridge.keys())[0]?.licenses.find((l) => l.product === 1001)?.borrowed).toBe(1),
    );
  });
});

describe("a return whose answer fails its signature check", () => {
  it("is not reported as done, and the seat counts are listed again from the key", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-settle" });
    // The SETTLE answer is short: byte 40 of its first report lies inside the signature.
    demoKey(bridge).injectFault({ kind: "corrupt", direction: "toHost", nth: 1, byteIndex: 40 });

    await expect(bridge.returnBorrow(borrow.id)).rejects.toMatchObject({ code: "PROTOCOL_BAD_SIGNATURE" });

    // The key did settle (only its answer was damaged); keybridge keeps the journaled row for recovery.
    expect(demoKey(bridge).state.borrows).toEqual([]);
    expect(bridge.testSeams.ledger.getBorrow("KB-DEMO-0001", borrow.id)?.state).toBe("returning");
    await vi.waitFor(async () =>
      expect((await bridge.keys())[0]?.licenses.find((l) => l.product === 1001)?.borrowed).toBe(0),
    );
  });
});

describe("bad input changes nothing", () => {
  it.each([
    ["an unknown product", { product: 4242, client: "ws" }, "UNKNOWN_PRODUCT"],
    ["a client over 64 UTF-8 bytes", { product: 1001, client: "é".repeat(33) }, "VALIDATION"],
    ["an empty client", { product: 1001, client: "" }, "VALIDATION"],
    ["days beyond the borrow period", { product: 1002, client: "ws", days: 15 }, "VALIDATION"],
    ["a fractional product", { product: 1001.5, client: "ws" }, "VALIDATION"],
  ])("refuses %s", async (_name, request, code) => {
    const bridge = await openVirtual();
    await bridge.borrow({ product: 1003, client: "existing" });
    const before = await snapshot(bridge);
    await expect(bridge.borrow(request)).rejects.toMatchObject({ code });
    expect(await snapshot(bridge)).toEqual(before);
  });

  it("names the invalid field", async () => {
    const bridge = await openVirtual();
    await expect(bridge.borrow({ product: 1002, client: "ws", days: 15 })).rejects.toMatchObject({
      code: "VALIDATION",
      details: { field: "days" },
    });
  });

  it("refuses to return an unknown id and an already returned borrow", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1001, client: "ws" });
    await expect(bridge.returnBorrow(999)).rejects.toMatchObject({ code: "UNKNOWN_BORROW" });
    await bridge.returnBorrow(borrow.id);
    const before = await snapshot(bridge);
    await expect(bridge.returnBorrow(borrow.id)).rejects.toMatchObject({ code: "ALREADY_RETURNED" });
    expect(await snapshot(bridge)).toEqual(before);
  });

  it("refuses a return after the host identity changed, and creates no dummy", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1001, client: "ws" });
    await bridge.virtual?.setHost({ ip: "203.0.113.50" });
    const before = await snapshot(bridge);
    await expect(bridge.returnBorrow(borrow.id)).rejects.toMatchObject({ code: "BINDING_MISMATCH" });
    expect(await snapshot(bridge)).toEqual(before);
    expect(demoKey(bridge).state.borrows.map((b) => b.state)).toEqual(["active"]);
    // Migrating carries the borrow to the new identity; then the return succeeds without a dummy.
    const migration = await bridge.migrate();
    expect(migration.rebound).toBe(1);
    await bridge.returnBorrow(borrow.id);
    expect(demoKey(bridge).state.borrows).toEqual([]);
  });

  it("surfaces NO_BORROWABLE as a typed error when every borrowable seat is out", async () => {
    const bridge = await openVirtual();
    await bridge.borrow({ product: 1002, client: "a" });
    await bridge.borrow({ product: 1002, client: "b" });
    await expect(bridge.borrow({ product: 1002, client: "c" })).rejects.toMatchObject({ code: "NO_BORROWABLE" });
    expect(bridge.testSeams.ledger.listBorrows()).toHaveLength(2);
  });

  it("says KEY_ABSENT when no key is present, and serves again after replug", async () => {
    const bridge = await openVirtual();
    await bridge.virtual?.unplug("KB-DEMO-0001");
    expect((await bridge.keys())[0]?.present).toBe(false);
    await expect(bridge.borrow({ product: 1001, client: "ws" })).rejects.toMatchObject({ code: "KEY_ABSENT" });
    await bridge.virtual?.plug("KB-DEMO-0001");
    expect((await bridge.keys())[0]?.present).toBe(true);
    await expect(bridge.borrow({ product: 1001, client: "ws" })).resolves.toMatchObject({ state: "active" });
  });
});

describe("seat accounting", () => {
  it("64 concurrent borrows leave the key's seat counts equal to the ledger's", async () => {
    const bridge = await openVirtual();
    await bridge.virtual?.create({
      serial: "KB-LOAD-1",
      licenses: [{ product: 7, seats: 100, borrowable: 40, borrowDays: 30 }],
    });
    const results = await Promise.allSettled(
      Array.from({ length: 64 }, (_, i) => bridge.borrow({ product: 7, client: `c${i}`, serial: "KB-LOAD-1" })),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter((r) => r.status === "rejected");
    expect(ok).toBe(40);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "NO_BORROWABLE" });
    const key = bridge.testSeams.world?.key("KB-LOAD-1");
    expect(key?.state.licenses[0]?.borrowed).toBe(40);
    expect(bridge.testSeams.ledger.listBorrows({ serial: "KB-LOAD-1", states: ["active"] })).toHaveLength(40);
    await Promise.all(
      (await bridge.borrows({ serial: "KB-LOAD-1" })).slice(0, 20).map((b) => bridge.returnBorrow(b.id)),
    );
    expect(key?.state.licenses[0]?.borrowed).toBe(20);
    expect(bridge.testSeams.ledger.listBorrows({ serial: "KB-LOAD-1", states: ["active"] })).toHaveLength(20);
    const view = (await bridge.keys()).find((k) => k.serial === "KB-LOAD-1");
    await bridge.testSeams.world?.key("KB-LOAD-1");
    expect(view?.present).toBe(true);
  });
});

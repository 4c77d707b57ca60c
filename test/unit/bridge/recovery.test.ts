import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { closeBridge, demoKey, openVirtual, tempDataDir } from "./helpers.js";

const SERIAL = "KB-DEMO-0001";

function client(bridge: OpenedBridge) {
  const session = bridge.testSeams.keys.session(SERIAL);
  if (session?.client === undefined) throw new Error("key not attached");
  return session.client;
}

function bindingOf(bridge: OpenedBridge): Buffer {
  return Buffer.from(bridge.testSeams.binding(), "hex");
}

describe("recovery at start", () => {
  it("(a) completes an interrupted return with the same settle opId", async () => {
    const dataDir = tempDataDir();
    let bridge = await openVirtual({ dataDir });
    const borrow = await bridge.borrow({ product: 1001, client: "ws" });
    const { ledger } = bridge.testSeams;
    const row = ledger.getBorrow(SERIAL, borrow.id);
    if (row === undefined) throw new Error("row missing");
    // The journal step of a return, then the key's SETTLE, then a crash before the ledger.
    const settleOpId = randomBytes(16).toString("hex");
    ledger.transaction((tx) => {
      tx.updateBorrowState(SERIAL, borrow.id, { state: "returning", settleOpId });
      tx.beginOp({ opId: settleOpId, kind: "return", serial: SERIAL, borrowId: borrow.id });
    });
    await client(bridge).settle({
      opId: Buffer.from(settleOpId, "hex"),
      id: borrow.id,
      binding: Buffer.from(row.binding, "hex"),
      tag: Buffer.from(row.tag, "hex"),
    });
    await closeBridge(bridge);

    bridge = await openVirtual({ dataDir });
    expect(bridge.testSeams.ledger.getBorrow(SERIAL, borrow.id)?.state).toBe("returned");
    expect(bridge.testSeams.ledger.getOp(settleOpId)?.outcome).toBe("done");
    expect(demoKey(bridge).state.borrows).toEqual([]);
    expect(await bridge.borrows()).toEqual([]);
  });

  it("(a) re-sends the settle when the crash came before the key", async () => {
    const dataDir = tempDataDir();
    let bridge = await openVirtual({ dataDir });
    const borrow = await bridge.borrow({ product: 1001, client: "ws" });
    const settleOpId = randomBytes(16).toString("hex");
    bridge.testSeams.ledger.transaction((tx) => {
      tx.updateBorrowState(SERIAL, borrow.id, { state: "returning", settleOpId });
      tx.beginOp({ opId: settleOpId, kind: "return", serial: SERIAL, borrowId: borrow.id });
    });
    await closeBridge(bridge);
    bridge = await openVirtual({ dataDir });
    expect(bridge.testSeams.ledger.getBorrow(SERIAL, borrow.id)?.state).toBe("returned");
    expect(demoKey(bridge).state.borrows).toEqual([]);
  });

  it("(b) rolls back a key record the ledger never acknowledged, without a dummy", async () => {
    const dataDir = tempDataDir();
    let bridge = await openVirtual({ dataDir });
    const opId = randomBytes(16);
    const record = await client(bridge).borrow({
      opId,
      product: 1003,
      days: 10,
      binding: bindingOf(bridge),
      tag: bridge.testSeams.ledger.deriveTag(opId),
      client: "lost-ack",
    });
    await closeBridge(bridge);

    bridge = await openVirtual({ dataDir });
    expect(demoKey(bridge).state.borrows).toEqual([]);
    expect(demoKey(bridge).state.licenses.find((l) => l.product === 1003)).toMatchObject({ borrowed: 0, dummies: 0 });
    expect((await bridge.audit({ limit: 20, kind: "rollback" }))[0]).toMatchObject({
      borrowId: record.id,
    });
    expect(await bridge.borrows()).toEqual([]);
  });

  it("(c) marks settled a ledger row the key no longer holds", async () => {
    const dataDir = tempDataDir();
    let bridge = await openVirtual({ dataDir });
    const borrow = await bridge.borrow({ product: 1001, client: "ws" });
    const row = bridge.testSeams.ledger.getBorrow(SERIAL, borrow.id);
    if (row === undefined) throw new Error("row missing");
    await client(bridge).settle({
      opId: randomBytes(16),
      id: borrow.id,
      binding: Buffer.from(row.binding, "hex"),
      tag: Buffer.from(row.tag, "hex"),
    });
    await closeBridge(bridge);

    bridge = await openVirtual({ dataDir });
    expect(bridge.testSeams.ledger.getBorrow(SERIAL, borrow.id)?.state).toBe("settled");
    expect(await bridge.borrows()).toEqual([]);
    expect((await bridge.reconcile()).findings).toEqual([]);
  });

  it("(d) mirrors a key dummy into the ledger with its dummyUntil", async () => {
    const dataDir = tempDataDir();
    let bridge = await openVirtual({ dataDir });
    const borrow = await bridge.borrow({ product: 1002, client: "ws" });
    // A settle with a wrong tag: the key makes a dummy (K3), as after a registry loss elsewhere.
    const result = await client(bridge).settle({
      opId: randomBytes(16),
      id: borrow.id,
      binding: bindingOf(bridge),
      tag: randomBytes(16),
    });
    expect(result.outcome).toBe("dummy");
    await closeBridge(bridge);

    bridge = await openVirtual({ dataDir });
    const row = bridge.testSeams.ledger.getBorrow(SERIAL, borrow.id);
    expect(row?.state).toBe("dummy");
    expect(row?.dummyUntil).toBe(result.dummyUntil);
    const status = await bridge.status();
    expect(status.borrows).toEqual([]);
    expect(status.dummies).toEqual([
      expect.objectContaining({ borrowId: borrow.id, product: 1002, blocksProduct: true }),
    ]);
    expect((await bridge.getBorrow(borrow.id)).state).toBe("dummy");
  });

  it("recovers on attach too: a key unplugged mid-return is completed when it comes back", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1001, client: "ws" });
    const settleOpId = randomBytes(16).toString("hex");
    bridge.testSeams.ledger.transaction((tx) => {
      tx.updateBorrowState(SERIAL, borrow.id, { state: "returning", settleOpId });
      tx.beginOp({ opId: settleOpId, kind: "return", serial: SERIAL, borrowId: borrow.id });
    });
    await bridge.virtual?.unplug(SERIAL);
    await bridge.virtual?.plug(SERIAL);
    expect(bridge.testSeams.ledger.getBorrow(SERIAL, borrow.id)?.state).toBe("returned");
    expect(demoKey(bridge).state.borrows).toEqual([]);
  });
});

describe("lost answers", () => {
  it("rolls back a borrow the key did but whose caller gave up, without waiting for a reattach", async () => {
    const bridge = await openVirtual({ virtualLatencyMs: 30 });
    const key = demoKey(bridge);
    const controller = new AbortController();
    const attempt = bridge.borrow({ product: 1001, client: "impatient" }, { signal: controller.signal });
    // Give up once the key has recorded the borrow but before its answer arrives.
    while (key.state.borrows.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    controller.abort();
    await expect(attempt).rejects.toMatchObject({ code: "TRANSPORT_ABORTED" });
    for (let i = 0; i < 300 && key.state.borrows.length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(key.state.borrows).toEqual([]);
    expect(key.state.licenses.find((l) => l.product === 1001)).toMatchObject({ borrowed: 0, dummies: 0 });
    expect(bridge.testSeams.ledger.listBorrows()).toEqual([]);
  });
});

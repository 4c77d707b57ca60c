import { describe, expect, it } from "vitest";
import { closeBridge, demoKey, openVirtual, tempDataDir } from "./helpers.js";

const SERIAL = "KB-DEMO-0001";

function seatsTaken(bridge: Awaited<ReturnType<typeof openVirtual>>): number {
  return demoKey(bridge).state.borrows.filter((record) => record.state === "active").length;
}

describe("a borrow retried with an idempotency key", () => {
  it("answers the same borrow and takes one seat, for sequential and concurrent retries", async () => {
    const bridge = await openVirtual();
    const request = { product: 1001, client: "ws-retry", days: 7 };
    const first = await bridge.borrow(request, { idempotencyKey: "job-42" });
    const again = await bridge.borrow(request, { idempotencyKey: "job-42" });
    expect(again).toEqual(first);
    const storm = await Promise.all(
      Array.from({ length: 10 }, () => bridge.borrow({ ...request, client: "ws-storm" }, { idempotencyKey: "storm" })),
    );
    expect(new Set(storm.map((view) => view.id)).size).toBe(1);
    expect(seatsTaken(bridge)).toBe(2);
    // Without a key, every call is a borrow of its own.
    await bridge.borrow(request);
    expect(seatsTaken(bridge)).toBe(3);
  });

  it("survives a restart: the key is kept in the ledger", async () => {
    const dataDir = tempDataDir();
    const before = await openVirtual({ dataDir });
    const first = await before.borrow({ product: 1001, client: "ws-restart" }, { idempotencyKey: "restart-1" });
    await closeBridge(before);
    const after = await openVirtual({ dataDir });
    const again = await after.borrow({ product: 1001, client: "ws-restart" }, { idempotencyKey: "restart-1" });
    expect(again.id).toBe(first.id);
    expect(seatsTaken(after)).toBe(1);
  });

  it("after the borrow was returned, the same key answers that returned borrow, never a new seat", async () => {
    const bridge = await openVirtual();
    const first = await bridge.borrow({ product: 1001, client: "ws-done" }, { idempotencyKey: "done-1" });
    await bridge.returnBorrow(first.id);
    const again = await bridge.borrow({ product: 1001, client: "ws-done" }, { idempotencyKey: "done-1" });
    expect(again).toMatchObject({ id: first.id, state: "returned" });
    expect(seatsTaken(bridge)).toBe(0);
  });

  it("the same key with another request is IDEMPOTENCY_KEY_REUSED, naming the fields, and borrows nothing", async () => {
    const bridge = await openVirtual();
    await bridge.borrow({ product: 1001, client: "ws-a" }, { idempotencyKey: "shared" });
    const error = await bridge
      .borrow({ product: 1002, client: "ws-b" }, { idempotencyKey: "shared" })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED", details: { fields: ["product", "client"] } });
    expect(seatsTaken(bridge)).toBe(1);
    // Also while the first is still running.
    const running = bridge.borrow({ product: 1001, client: "ws-c" }, { idempotencyKey: "racing" });
    await expect(bridge.borrow({ product: 1001, client: "ws-d" }, { idempotencyKey: "racing" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_KEY_REUSED",
    });
    await running;
  });

  it.each([
    ["empty", ""],
    ["with a space", "a b"],
    ["with a control character", "a\u0007b"],
    ["too long", "k".repeat(256)],
  ])("refuses a key %s as a validation error", async (_name, key) => {
    const bridge = await openVirtual();
    await expect(bridge.borrow({ product: 1001, client: "ws" }, { idempotencyKey: key })).rejects.toMatchObject({
      code: "VALIDATION",
      details: { field: "idempotencyKey" },
    });
    expect(seatsTaken(bridge)).toBe(0);
  });

  it("a first attempt whose answer was lost is rolled back; the retry borrows afresh, one seat in the end", async () => {
    const bridge = await openVirtual({ virtualLatencyMs: 30 });
    const key = demoKey(bridge);
    const controller = new AbortController();
    const attempt = bridge.borrow(
      { product: 1001, client: "ws-lost" },
      { signal: controller.signal, idempotencyKey: "lost-1" },
    );
    while (key.state.borrows.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    controller.abort();
    await expect(attempt).rejects.toMatchObject({ code: "TRANSPORT_ABORTED" });
    for (let i = 0; i < 300 && key.state.borrows.length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(key.state.borrows).toEqual([]);
    const retry = await bridge.borrow({ product: 1001, client: "ws-lost" }, { idempotencyKey: "lost-1" });
    expect(retry.state).toBe("active");
    expect(seatsTaken(bridge)).toBe(1);
    expect((await bridge.getBorrow(retry.id, { serial: SERIAL })).state).toBe("active");
  });
});

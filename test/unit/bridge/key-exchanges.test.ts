import { describe, expect, it } from "vitest";
import type { KeyExchangeView } from "../../../src/bridge/api.js";
import { openVirtual } from "./helpers.js";

describe("key exchanges as the bridge reports them", () => {
  it("times every request/answer with the key, with its command, and names a refusal's status", async () => {
    const bridge = await openVirtual();
    const seen: KeyExchangeView[] = [];
    const subscription = bridge.keyExchanges$.subscribe((exchange) => seen.push(exchange));
    const borrow = await bridge.borrow({ product: 1002, client: "ws-1" });
    await bridge.borrow({ product: 1002, client: "ws-2" });
    await expect(bridge.borrow({ product: 1002, client: "ws-3" })).rejects.toMatchObject({ code: "NO_BORROWABLE" });
    await bridge.returnBorrow(borrow.id);
    subscription.unsubscribe();

    const borrows = seen.filter((exchange) => exchange.command === "BORROW");
    expect(borrows).toHaveLength(3);
    expect(borrows.map((exchange) => exchange.code)).toEqual([undefined, undefined, "NO_BORROWABLE"]);
    expect(borrows.every((exchange) => exchange.outcome === "answered" && exchange.serial === "KB-DEMO-0001")).toBe(
      true,
    );
    expect(seen.some((exchange) => exchange.command === "SETTLE")).toBe(true);
    for (const exchange of seen) {
      expect(exchange.seconds).toBeGreaterThanOrEqual(0);
      expect(exchange.waitedSeconds).toBeGreaterThanOrEqual(0);
    }
  });

  it("reports an exchange the key never answered as failed, with the transport's code", async () => {
    const bridge = await openVirtual({ exchangeTimeoutMs: 100 });
    const seen: KeyExchangeView[] = [];
    const subscription = bridge.keyExchanges$.subscribe((exchange) => seen.push(exchange));
    bridge.testSeams.world!.key("KB-DEMO-0001").setLatency(400);
    await expect(bridge.borrow({ product: 1001, client: "ws-slow" })).rejects.toMatchObject({
      code: "TRANSPORT_TIMEOUT",
    });
    subscription.unsubscribe();
    expect(seen.find((exchange) => exchange.command === "BORROW")).toMatchObject({
      outcome: "failed",
      code: "TRANSPORT_TIMEOUT",
    });
  });

  it("completes when the bridge closes, so subscribers are released", async () => {
    const bridge = await openVirtual();
    let completed = false;
    bridge.keyExchanges$.subscribe({ complete: () => (completed = true) });
    await bridge.close();
    expect(completed).toBe(true);
  });
});

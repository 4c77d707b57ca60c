import { describe, expect, it } from "vitest";
import { openVirtual } from "./helpers.js";

describe("openBridge in virtual mode", () => {
  it("borrows, lists and returns", async () => {
    const bridge = await openVirtual();
    const keys = await bridge.keys();
    expect(keys.map((k) => k.serial)).toEqual(["KB-DEMO-0001"]);
    const borrow = await bridge.borrow({ product: 1001, client: "ws-01" });
    expect(borrow.state).toBe("active");
    expect((await bridge.borrows()).map((b) => b.id)).toEqual([borrow.id]);
    const status = await bridge.status();
    expect(status.borrows).toHaveLength(1);
    expect((await bridge.reconcile()).findings).toEqual([]);
    const result = await bridge.returnBorrow(borrow.id);
    expect(result.outcome).toBe("returned");
    expect(await bridge.borrows()).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { closeBridge, openVirtual } from "./helpers.js";

describe("borrow ids on two keys", () => {
  it("ids are per key: the same id on two keys is returned by naming the key, and refused without it", async () => {
    const bridge = await openVirtual();
    try {
      await bridge.virtual?.create({ serial: "KB-SECOND-0002" });
      const onDemo = await bridge.borrow({ product: 1001, client: "ws-a", serial: "KB-DEMO-0001" });
      const onSecond = await bridge.borrow({ product: 1001, client: "ws-b", serial: "KB-SECOND-0002" });
      expect(onDemo.id).toBe(onSecond.id);

      await expect(bridge.returnBorrow(onDemo.id)).rejects.toMatchObject({ code: "VALIDATION" });
      expect((await bridge.getBorrow(onSecond.id, { serial: "KB-SECOND-0002" })).client).toBe("ws-b");

      const returned = await bridge.returnBorrow(onSecond.id, { serial: "KB-SECOND-0002" });
      expect(returned.borrow).toMatchObject({ serial: "KB-SECOND-0002", client: "ws-b" });
      const left = await bridge.borrows();
      expect(left.map((b) => `${b.serial}/${b.client}`)).toEqual(["KB-DEMO-0001/ws-a"]);
      // With one candidate left, the id alone is enough again.
      await bridge.returnBorrow(onDemo.id);
      expect(await bridge.borrows()).toEqual([]);
    } finally {
      await closeBridge(bridge);
    }
  });
});

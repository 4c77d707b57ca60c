import { describe, expect, it } from "vitest";
import { KeyOrder } from "../../../src/bridge/key-order.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("KeyOrder", () => {
  it("seat operations share a key; a license update waits for those ahead of it and holds back those after it", async () => {
    const order = new KeyOrder();
    const log: string[] = [];
    const first = await order.shared("K");
    const second = await order.shared("K");
    expect(order.sharedHolders("K")).toBe(2);

    const update = order.exclusive("K").then((release) => {
      log.push("update");
      return release;
    });
    const later = order.shared("K").then((release) => {
      log.push("later borrow");
      return release;
    });
    await tick();
    expect(log).toEqual([]);

    first();
    await tick();
    expect(log).toEqual([]);
    second();
    await tick();
    expect(log).toEqual(["update"]);

    (await update)();
    await tick();
    expect(log).toEqual(["update", "later borrow"]);
    (await later)();
    expect(order.sharedHolders("K")).toBe(0);
  });

  it("keys are independent, and a release given twice counts once", async () => {
    const order = new KeyOrder();
    const release = await order.exclusive("A");
    const other = await order.shared("B");
    expect(order.sharedHolders("B")).toBe(1);
    release();
    release();
    const next = await order.shared("A");
    const alsoNext = await order.shared("A");
    expect(order.sharedHolders("A")).toBe(2);
    for (const done of [next, alsoNext, other]) done();
  });
});

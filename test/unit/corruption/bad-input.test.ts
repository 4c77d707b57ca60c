import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { closeBridge, openAt, SERIAL, tempDataDir } from "./helpers.js";

/** The three copies, byte for byte where they are files: a refused request must leave all of them alone. */
async function copies(bridge: OpenedBridge, dataDir: string) {
  await bridge.testSeams.mirror.flush();
  return {
    key: bridge.testSeams.world?.key(SERIAL).state.borrows.map((record) => ({ ...record })),
    ledger: bridge.testSeams.ledger.listBorrows(),
    registry: readFileSync(join(dataDir, "registry.ini"), "utf8"),
  };
}

// test/unit/bridge/borrow.test.ts covers the codes; these add the ones it lacks and compare files.
describe("bad input through the bridge changes nothing", () => {
  it.each([
    ["an unknown product on a named key", () => ({ product: 9999, client: "ws", serial: SERIAL }), "UNKNOWN_PRODUCT"],
    ["a 65-byte ASCII client", () => ({ product: 1001, client: "c".repeat(65) }), "VALIDATION"],
    ["days one past the license's borrow period", () => ({ product: 1001, client: "ws", days: 31 }), "VALIDATION"],
    ["zero days", () => ({ product: 1001, client: "ws", days: 0 }), "VALIDATION"],
    ["a product beyond u32", () => ({ product: 2 ** 32, client: "ws" }), "VALIDATION"],
  ])("refuses %s", async (_name, request, code) => {
    const dataDir = tempDataDir();
    const { bridge } = await openAt(dataDir);
    await bridge.borrow({ product: 1001, client: "existing" });
    const before = await copies(bridge, dataDir);
    await expect(bridge.borrow(request())).rejects.toMatchObject({ code });
    expect(await copies(bridge, dataDir)).toEqual(before);
  });

  it("a 64-byte client is accepted: the limit is inclusive", async () => {
    const { bridge } = await openAt(tempDataDir());
    await expect(bridge.borrow({ product: 1001, client: "c".repeat(64) })).resolves.toMatchObject({ state: "active" });
  });

  it.each([
    ["an unknown borrow id", 4242, "UNKNOWN_BORROW"],
    ["a negative id", -1, "VALIDATION"],
  ])("refuses to return %s", async (_name, id, code) => {
    const dataDir = tempDataDir();
    const { bridge } = await openAt(dataDir);
    await bridge.borrow({ product: 1001, client: "existing" });
    const before = await copies(bridge, dataDir);
    await expect(bridge.returnBorrow(id)).rejects.toMatchObject({ code });
    expect(await copies(bridge, dataDir)).toEqual(before);
  });

  it("refuses a second return of the same borrow, also after a restart", async () => {
    const dataDir = tempDataDir();
    const first = await openAt(dataDir);
    const borrow = await first.bridge.borrow({ product: 1001, client: "ws" });
    await first.bridge.borrow({ product: 1003, client: "other" });
    await first.bridge.returnBorrow(borrow.id);
    await expect(first.bridge.returnBorrow(borrow.id)).rejects.toMatchObject({ code: "ALREADY_RETURNED" });
    await closeBridge(first.bridge);
    const { bridge } = await openAt(dataDir);
    const before = await copies(bridge, dataDir);
    await expect(bridge.returnBorrow(borrow.id)).rejects.toMatchObject({ code: "ALREADY_RETURNED" });
    expect(await copies(bridge, dataDir)).toEqual(before);
  });
});

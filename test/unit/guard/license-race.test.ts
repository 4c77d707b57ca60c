import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { BorrowView, LicenseInput, LicenseUpdateView } from "../../../src/bridge/api.js";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { openGuarded, SERIAL, world } from "./helpers.js";

/**
 * A license update sent while borrows are on their way to the key: the update must see each of
 * them (refuse, unforced) or report each dummy it made (forced). Each round uses a product of its
 * own, so a dummy left by an earlier round blocks nothing.
 */

const ROUNDS = 24;

function licensesFor(product: number): LicenseInput[] {
  return [{ product, seats: 60, borrowable: 40, borrowDays: 30 }];
}

function keyRecords(bridge: OpenedBridge) {
  return world(bridge).key(SERIAL).state.borrows;
}

/** Starts `count` borrows of `product`, then after `delayMs` the update; waits for all of them. */
async function race(
  bridge: OpenedBridge,
  product: number,
  count: number,
  delayMs: number,
  force: boolean,
): Promise<{ borrows: PromiseSettledResult<BorrowView>[]; update: PromiseSettledResult<LicenseUpdateView> }> {
  const borrows = Array.from({ length: count }, (_, n) => bridge.borrow({ product, client: `ws-${product}-${n}` }));
  if (delayMs > 0) await sleep(delayMs);
  const update = bridge.licenseUpdate(SERIAL, licensesFor(product + 1), { force });
  const [settledUpdate, ...settledBorrows] = await Promise.allSettled([update, ...borrows]);
  return { borrows: settledBorrows, update: settledUpdate as PromiseSettledResult<LicenseUpdateView> };
}

async function returnAll(bridge: OpenedBridge): Promise<void> {
  for (const view of await bridge.borrows()) {
    if (view.state === "active") await bridge.returnBorrow(view.id);
  }
}

describe("license update racing borrows", () => {
  it.each([1, 20])("an unforced update with %i borrow(s) in flight never makes a dummy", async (count) => {
    const bridge = await openGuarded();
    let product = 5000;
    await bridge.licenseUpdate(SERIAL, licensesFor(product));
    let refused = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { update } = await race(bridge, product, count, round % 4, false);
      product++;
      const dummies = keyRecords(bridge).filter((record) => record.state === "dummy");
      expect(
        dummies.map((record) => record.id),
        `round ${round}: the key holds dummies`,
      ).toEqual([]);
      if (update.status === "rejected") {
        expect(update.reason).toMatchObject({ code: "BORROWS_OUTSTANDING" });
        refused++;
        // Nothing changed on the key: the round's product is still the key's, and its borrows return.
        await returnAll(bridge);
        await bridge.licenseUpdate(SERIAL, licensesFor(product));
      } else {
        expect(update.value.dummiesCreated).toEqual([]);
      }
      await returnAll(bridge);
      expect(keyRecords(bridge)).toEqual([]);
    }
    // Borrows sent before the update was asked for are always seen by it.
    expect(refused).toBeGreaterThan(0);
  });

  it("a forced update reports every dummy the key made, and the ledger holds each of them", async () => {
    const bridge = await openGuarded();
    let product = 7000;
    await bridge.licenseUpdate(SERIAL, licensesFor(product));
    for (let round = 0; round < 8; round++) {
      const { update, borrows } = await race(bridge, product, 20, round % 4, true);
      product++;
      expect(update.status, `round ${round}`).toBe("fulfilled");
      const reported = (update as PromiseFulfilledResult<LicenseUpdateView>).value.dummiesCreated;
      const onKey = keyRecords(bridge).filter((record) => record.state === "dummy" && record.product === product - 1);
      expect(reported.map((view) => view.id).sort((a, b) => a - b)).toEqual(onKey.map((record) => record.id));
      for (const view of reported) {
        expect(view.state).toBe("dummy");
        expect(view.dummyUntil).toBeDefined();
      }
      const ledgerDummies = (await bridge.borrows({ state: "dummy" })).filter((view) => view.product === product - 1);
      expect(ledgerDummies.map((view) => view.id).sort((a, b) => a - b)).toEqual(onKey.map((record) => record.id));
      // Every borrow that was answered either became one of those dummies or was taken after the update.
      for (const borrow of borrows) {
        if (borrow.status === "fulfilled" && !onKey.some((record) => record.id === borrow.value.id)) {
          expect((await bridge.getBorrow(borrow.value.id, { serial: SERIAL })).state).toBe("active");
        }
      }
      await returnAll(bridge);
      await bridge.licenseUpdate(SERIAL, licensesFor(product));
    }
  });
});

/** The factory station (`keybridge vendor provision|apply`) over the node-hid stand-in, no daemon. */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createNodeHidStandIn, createUsbStandIn, VirtualBus } from "../../../native-mocks/index.js";
import { applyUpdateToAttachedKey, provisionAttachedKey } from "../../../src/bridge/factory-station.js";
import { virtualHidBackend } from "../../../src/transport/backend.js";
import { newTestVendor } from "../../conformance/vendor.js";

const buses: VirtualBus[] = [];
afterEach(() => {
  for (const bus of buses.splice(0)) bus.close();
});

const START = [{ product: 1001, seats: 10, borrowable: 4, borrowDays: 30 }];

/** A bus with fresh, unprovisioned keys, as they come off the board's `keybridge key init`. */
function station(...serials: string[]) {
  const bus = new VirtualBus();
  buses.push(bus);
  const keys = serials.map((serial) => bus.createKey({ serial, licenses: START }));
  return { bus, keys, backend: virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus)) };
}

describe("provisioning at the factory station", () => {
  it("provisions the only attached key; again with the same vendor changes nothing; another vendor is refused", async () => {
    const { keys, backend } = station("KB-0001");
    const vendor = newTestVendor();
    const first = await provisionAttachedKey(vendor.publicKey, { backend });
    expect(first).toEqual({
      serial: "KB-0001",
      provisioned: true,
      vendor: { provisioned: true, vendorPublicKey: vendor.publicKey, updateCounter: 0 },
    });
    expect(keys[0]!.state.vendorPublicKey).toEqual(vendor.publicKey);
    expect((await provisionAttachedKey(vendor.publicKey, { backend })).provisioned).toBe(false);
    await expect(provisionAttachedKey(newTestVendor().publicKey, { backend })).rejects.toMatchObject({
      code: "KEY_ALREADY_PROVISIONED",
    });
    expect(keys[0]!.state.vendorPublicKey).toEqual(vendor.publicKey);
  });

  it("with several keys attached it needs the serial, and names the attached ones when the serial is not there", async () => {
    const { keys, backend } = station("KB-0001", "KB-0002");
    const vendor = newTestVendor();
    await expect(provisionAttachedKey(vendor.publicKey, { backend })).rejects.toMatchObject({ code: "KEY_AMBIGUOUS" });
    const missing = await provisionAttachedKey(vendor.publicKey, { backend, serial: "KB-0009" }).catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({ code: "KEY_ABSENT" });
    expect((missing as Error).message).toMatch(/KB-0009 is attached \(attached: KB-0001, KB-0002\)/);
    await provisionAttachedKey(vendor.publicKey, { backend, serial: "KB-0002" });
    expect(keys.map((key) => key.state.vendorPublicKey !== undefined)).toEqual([false, true]);
  });

  it("no key attached: KEY_ABSENT, saying to plug one in", async () => {
    const { backend } = station();
    await expect(provisionAttachedKey(newTestVendor().publicKey, { backend })).rejects.toThrow(/plug the key/);
  });
});

describe("applying an update at the factory station", () => {
  it("applies an update to the key it names and reports what changed", async () => {
    const { keys, backend } = station("KB-0001", "KB-0002");
    const vendor = newTestVendor();
    await provisionAttachedKey(vendor.publicKey, { backend, serial: "KB-0002" });
    const update = vendor.sign({
      serial: "KB-0002",
      counter: 1,
      licenses: [
        { product: 1001, seats: 12, borrowable: 4, borrowDays: 30 },
        { product: 1005, seats: 1, borrowable: 1, borrowDays: 7 },
      ],
    });
    const outcome = await applyUpdateToAttachedKey(update, randomBytes(16), { backend });
    expect(outcome.serial).toBe("KB-0002");
    expect(outcome.result).toMatchObject({ updateCounter: 1, dummiesCreated: 0 });
    expect(outcome.changes.map((change) => [change.product, change.change])).toEqual([
      [1001, "changed"],
      [1005, "added"],
    ]);
    expect(keys[1]!.state.licenses.map((license) => license.product)).toEqual([1001, 1005]);
    await expect(applyUpdateToAttachedKey(update, randomBytes(16), { backend })).rejects.toMatchObject({
      code: "KEY_STALE_COUNTER",
    });
  });

  it("refuses a key with borrows out (it is in service) and leaves its licenses alone", async () => {
    const { keys, backend } = station("KB-0001");
    const vendor = newTestVendor();
    await provisionAttachedKey(vendor.publicKey, { backend });
    const { withAttachedKey } = await import("../../../src/bridge/factory-station.js");
    await withAttachedKey({ backend }, (client) =>
      client.borrow({
        opId: randomBytes(16),
        product: 1001,
        days: 1,
        binding: new Uint8Array(32),
        tag: new Uint8Array(16),
        client: "ws-1",
      }),
    );
    const update = vendor.sign({ serial: "KB-0001", counter: 1, licenses: [] });
    const refused = await applyUpdateToAttachedKey(update, randomBytes(16), { backend }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "BORROWS_OUTSTANDING" });
    expect((refused as Error).message).toMatch(/keybridge license-update/);
    expect(keys[0]!.state.licenses.map((license) => license.product)).toEqual([1001]);
  });
});

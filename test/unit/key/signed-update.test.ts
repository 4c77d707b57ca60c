/** KeyClient's vendor commands against the virtual key, through the real transport. */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { KeyClient } from "../../../src/key/key-client.js";
import { Capability } from "../../../src/protocol/index.js";
import { newTestVendor } from "../../conformance/vendor.js";
import { connectVirtual, HARNESS_VENDOR, type VirtualSetup, virtualSetup } from "./virtual-key-harness.js";

const LICENSES = [{ product: 1001, seats: 11, borrowable: 4, borrowDays: 30 }];
const opened: Array<{ setup: VirtualSetup; close: () => Promise<void> }> = [];

afterEach(async () => {
  for (const { setup, close } of opened.splice(0)) {
    await close();
    setup.bus.close();
  }
});

async function open() {
  const setup = virtualSetup();
  const { client } = await connectVirtual(setup);
  opened.push({ setup, close: () => client.close() });
  return { setup, client };
}

describe("signed license updates through KeyClient", () => {
  it("a bare license set without a signer fails with KEY_UPDATE_NOT_SIGNED before anything is sent", async () => {
    const { setup, client } = await open();
    const sent = setup.key.counters.toKey;
    await expect(client.licenseUpdate({ opId: randomBytes(16), licenses: LICENSES })).rejects.toMatchObject({
      code: "KEY_UPDATE_NOT_SIGNED",
    });
    expect(setup.key.counters.toKey).toBe(sent);
  });

  it("with a signer, a bare set goes out signed with the counter after the key's", async () => {
    const setup = virtualSetup();
    const { client } = await connectVirtual(setup);
    opened.push({ setup, close: () => client.close() });
    const signing = new KeyClient(client.transport, setup.key.publicKey, client.info, {
      licenseSigner: { sign: (update) => HARNESS_VENDOR.sign(update) },
    });
    const opId = randomBytes(16);
    const first = await signing.licenseUpdate({ opId, licenses: LICENSES });
    expect(await signing.vendorInfo()).toMatchObject({ updateCounter: 1 });
    // A retry of the same operation (same opId) answers as the first time and changes nothing (K2).
    expect(await signing.licenseUpdate({ opId, licenses: LICENSES })).toEqual(first);
    expect(await signing.vendorInfo()).toMatchObject({ updateCounter: 1 });
  });

  it("each refusal arrives as its typed error with the key's reason", async () => {
    const { client } = await open();
    const sign = (counter: number, serial = client.serial) =>
      HARNESS_VENDOR.sign({ serial, counter, licenses: LICENSES });
    await client.signedLicenseUpdate({ opId: randomBytes(16), update: sign(5) });
    const cases: Array<[ReturnType<typeof sign>, string, RegExp]> = [
      [sign(5), "KEY_STALE_COUNTER", /counter 5 is not above the key's 5/],
      [sign(6, "KB-ELSEWHERE"), "KEY_WRONG_SERIAL", /KB-ELSEWHERE/],
      [
        newTestVendor().sign({ serial: client.serial, counter: 6, licenses: LICENSES }),
        "KEY_BAD_VENDOR_SIGNATURE",
        /vendor key/,
      ],
    ];
    for (const [update, code, reason] of cases) {
      const error = await client.signedLicenseUpdate({ opId: randomBytes(16), update }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).toMatch(reason);
    }
    await expect(
      client.provision({ serial: client.serial, vendorPublicKey: newTestVendor().publicKey }),
    ).rejects.toMatchObject({ code: "KEY_ALREADY_PROVISIONED" });
  });

  it("an unprovisioned key says so, is provisioned once, then takes its vendor's update", async () => {
    const { setup, client } = await open();
    setup.key.wipe();
    await expect(
      client.signedLicenseUpdate({
        opId: randomBytes(16),
        update: HARNESS_VENDOR.sign({ serial: client.serial, counter: 1, licenses: LICENSES }),
      }),
    ).rejects.toMatchObject({ code: "KEY_NOT_PROVISIONED" });
    expect(await client.vendorInfo()).toEqual({ provisioned: false, updateCounter: 0 });
    const vendor = newTestVendor();
    expect(await client.provision({ serial: client.serial, vendorPublicKey: vendor.publicKey })).toEqual({
      provisioned: true,
      vendorPublicKey: vendor.publicKey,
      updateCounter: 0,
    });
    const result = await client.signedLicenseUpdate({
      opId: randomBytes(16),
      update: vendor.sign({ serial: client.serial, counter: 1, licenses: LICENSES }),
    });
    expect(result.updateCounter).toBe(1);
  });

  it("a key without VENDOR_SIGNED gets no vendor command: KEY_SIGNED_UPDATES_UNSUPPORTED, nothing sent", async () => {
    const { setup, client } = await open();
    const older = new KeyClient(client.transport, setup.key.publicKey, {
      ...client.info,
      capabilities: client.info.capabilities & ~Capability.VENDOR_SIGNED,
    });
    const sent = setup.key.counters.toKey;
    await expect(older.vendorInfo()).rejects.toMatchObject({ code: "KEY_SIGNED_UPDATES_UNSUPPORTED" });
    await expect(
      older.provision({ serial: client.serial, vendorPublicKey: HARNESS_VENDOR.publicKey }),
    ).rejects.toMatchObject({ code: "KEY_SIGNED_UPDATES_UNSUPPORTED" });
    expect(setup.key.counters.toKey).toBe(sent);
  });
});

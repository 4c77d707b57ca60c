import assert from "node:assert/strict";
import type { KeyClient } from "../../src/key/key-client.js";
import {
  AppCommand,
  ByteWriter,
  Capability,
  COMMAND_CODECS,
  type License,
  OP_ID_SIZE,
  Status,
  writeSignedUpdate,
} from "../../src/protocol/index.js";
import type { ConformanceCase } from "./context.js";
import { borrowableProduct, borrowOne, clearDummies, random, recordOf, rejectsWithCode } from "./helpers.js";
import { newTestVendor } from "./vendor.js";

/** The key's license set without usage counts: what an update carries. */
async function currentSet(client: KeyClient): Promise<License[]> {
  return (await client.listLicenses()).map(({ product, seats, borrowable, borrowDays }) => ({
    product,
    seats,
    borrowable,
    borrowDays,
  }));
}

/** What no refused update may change. */
async function licenseState(client: KeyClient) {
  const info = await client.getInfo();
  const vendor = await client.vendorInfo();
  return { version: info.licenseSetVersion, licenses: await currentSet(client), vendor };
}

/** The same set with one more seat on its first product, so an applied update would show. */
async function alteredSet(client: KeyClient): Promise<License[]> {
  const licenses = await currentSet(client);
  assert.ok(licenses.length > 0, "the key holds no license");
  const [first, ...rest] = licenses;
  return [{ ...first!, seats: first!.seats + 1, borrowable: first!.borrowable }, ...rest];
}

export const vendorCases: ConformanceCase[] = [
  {
    name: "the key announces VENDOR_SIGNED, not LICENSE_UPDATE, and refuses an unsigned update changing nothing",
    rule: "vendor",
    async run({ client }) {
      assert.equal(client.info.capabilities & Capability.VENDOR_SIGNED, Capability.VENDOR_SIGNED);
      assert.equal(client.info.capabilities & Capability.LICENSE_UPDATE, 0);
      const before = await licenseState(client);
      const body = COMMAND_CODECS.LICENSE_UPDATE.encodeRequest({
        opId: random(16),
        licenses: await alteredSet(client),
      });
      const answer = await client.callRaw(AppCommand.LICENSE_UPDATE, body);
      assert.equal(answer.status, Status.UNKNOWN_COMMAND);
      assert.deepEqual(await licenseState(client), before);
    },
  },
  {
    name: "VENDOR_INFO says the key is provisioned (with the vendor of this run, when known)",
    rule: "vendor",
    async run({ client, vendor }) {
      const info = await client.vendorInfo();
      assert.equal(info.provisioned, true, "the key is not provisioned: provision it before it goes into service");
      assert.equal(info.vendorPublicKey?.length, 32);
      if (vendor !== undefined) assert.deepEqual(info.vendorPublicKey, vendor.publicKey);
    },
  },
  {
    name: "PROVISION with another vendor key is ALREADY_PROVISIONED, with another serial WRONG_SERIAL; nothing changes",
    rule: "vendor",
    async run({ client }) {
      const before = await client.vendorInfo();
      const other = newTestVendor().publicKey;
      await rejectsWithCode(
        client.provision({ serial: client.serial, vendorPublicKey: other }),
        "KEY_ALREADY_PROVISIONED",
      );
      await rejectsWithCode(
        client.provision({ serial: `${client.serial}-X`.slice(-32), vendorPublicKey: other }),
        "KEY_WRONG_SERIAL",
      );
      assert.deepEqual(await client.vendorInfo(), before);
      // The key's own vendor again is answered OK: a station may repeat a provisioning whose answer it lost.
      if (before.vendorPublicKey !== undefined) {
        assert.deepEqual(
          await client.provision({ serial: client.serial, vendorPublicKey: before.vendorPublicKey }),
          before,
        );
      }
    },
  },
  {
    name: "an update signed by another vendor is BAD_VENDOR_SIGNATURE and changes nothing",
    rule: "K6",
    async run({ client }) {
      const before = await licenseState(client);
      const forged = newTestVendor().sign({
        serial: client.serial,
        counter: before.vendor.updateCounter + 1,
        licenses: await alteredSet(client),
      });
      await rejectsWithCode(
        client.signedLicenseUpdate({ opId: random(16), update: forged }),
        "KEY_BAD_VENDOR_SIGNATURE",
      );
      assert.deepEqual(await licenseState(client), before);
    },
  },
  {
    name: "an update for another serial is WRONG_SERIAL and changes nothing",
    rule: "K6",
    async run({ client, vendor }) {
      const before = await licenseState(client);
      const signer = vendor ?? newTestVendor();
      const elsewhere = signer.sign({
        serial: `${client.serial}-X`.slice(-32),
        counter: before.vendor.updateCounter + 1,
        licenses: await alteredSet(client),
      });
      await rejectsWithCode(client.signedLicenseUpdate({ opId: random(16), update: elsewhere }), "KEY_WRONG_SERIAL");
      assert.deepEqual(await licenseState(client), before);
    },
  },
  {
    name: "a truncated or oversized update is BAD_REQUEST and changes nothing",
    rule: "K6",
    async run({ client }) {
      const before = await licenseState(client);
      const update = newTestVendor().sign({
        serial: client.serial,
        counter: before.vendor.updateCounter + 1,
        licenses: await alteredSet(client),
      });
      const w = new ByteWriter().bytes(random(OP_ID_SIZE));
      writeSignedUpdate(w, update);
      const full = w.finish();
      for (const body of [full.subarray(0, full.length - 1), full.subarray(0, 30), Uint8Array.of(...full, 0)]) {
        const answer = await client.callRaw(AppCommand.SIGNED_LICENSE_UPDATE, body);
        assert.equal(answer.status, Status.BAD_REQUEST, `a body of ${body.length} bytes`);
      }
      const oversized = new ByteWriter().bytes(random(OP_ID_SIZE)).shortString(client.serial, 32).u32(1).u16(257);
      for (let i = 0; i < 257; i++) oversized.u32(i).u16(1).u16(1).u16(1);
      const answer = await client.callRaw(AppCommand.SIGNED_LICENSE_UPDATE, oversized.bytes(random(64)).finish());
      assert.equal(answer.status, Status.BAD_REQUEST);
      assert.deepEqual(await licenseState(client), before);
    },
  },
  {
    name: "a vendor-signed update replaces the set, moves the counter and turns every active borrow into a dummy",
    rule: "K6",
    destructive: true,
    needsClockControl: true,
    needsVendor: true,
    async run({ client, controls, vendor }) {
      assert.ok(controls && vendor);
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product);
      const before = await licenseState(client);
      const licenses = await currentSet(client);
      const counter = before.vendor.updateCounter + 1;
      const result = await client.signedLicenseUpdate({
        opId: random(16),
        update: vendor.sign({ serial: client.serial, counter, licenses }),
      });
      assert.equal(result.licenseSetVersion, before.version + 1);
      assert.equal(result.updateCounter, counter);
      assert.ok(result.dummiesCreated >= 1);
      assert.equal((await recordOf(client, held.record.id))?.state, "dummy");
      assert.equal((await client.vendorInfo()).updateCounter, counter);
      await clearDummies(client, controls.advanceClock);
    },
  },
  {
    name: "a replayed update, or an older one, is STALE_COUNTER and changes nothing (no rollback)",
    rule: "K6",
    destructive: true,
    needsVendor: true,
    async run({ client, vendor }) {
      assert.ok(vendor);
      const start = await licenseState(client);
      const original = await currentSet(client);
      const first = vendor.sign({ serial: client.serial, counter: start.vendor.updateCounter + 1, licenses: original });
      const second = vendor.sign({
        serial: client.serial,
        counter: first.counter + 1,
        licenses: await alteredSet(client),
      });
      await client.signedLicenseUpdate({ opId: random(16), update: first });
      await client.signedLicenseUpdate({ opId: random(16), update: second });
      const applied = await licenseState(client);
      await rejectsWithCode(client.signedLicenseUpdate({ opId: random(16), update: second }), "KEY_STALE_COUNTER");
      await rejectsWithCode(client.signedLicenseUpdate({ opId: random(16), update: first }), "KEY_STALE_COUNTER");
      assert.deepEqual(await licenseState(client), applied);
      // Leave the key with the set it had, under a newer counter.
      await client.signedLicenseUpdate({
        opId: random(16),
        update: vendor.sign({ serial: client.serial, counter: second.counter + 1, licenses: original }),
      });
      assert.deepEqual(await currentSet(client), original);
    },
  },
];

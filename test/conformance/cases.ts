import assert from "node:assert/strict";
import { connectKey, KeyClient } from "../../src/key/key-client.js";
import { MemoryPinStore } from "../../src/key/pin-store.js";
import {
  AppCommand,
  BROADCAST_CID,
  MAX_BORROWS_PER_PAGE,
  MAX_PING_BYTES,
  PROTOCOL_VERSION,
  RESERVED_CID,
  Status,
} from "../../src/protocol/constants.js";
import type { ConformanceCase } from "./context.js";
import {
  borrowableProduct,
  borrowOne,
  CLIENT,
  clearDummies,
  DAY_MS,
  type HeldBorrow,
  licenseOf,
  random,
  recordOf,
  rejectsWithCode,
  settleHeld,
} from "./helpers.js";
import { vendorCases } from "./vendor-cases.js";

const protocolCases: ConformanceCase[] = [
  {
    name: "INIT allocates a usable channel and reports protocol version 1",
    rule: "protocol",
    async run({ client }) {
      const channel = client.transport.channel;
      assert.equal(channel.protocolVersion, PROTOCOL_VERSION);
      assert.notEqual(channel.cid, BROADCAST_CID);
      assert.notEqual(channel.cid, RESERVED_CID);
      assert.match(channel.firmwareVersion, /^\d+\.\d+\.\d+$/);
    },
  },
  {
    name: "GET_INFO describes the key consistently with INIT",
    rule: "protocol",
    async run({ client }) {
      const info = await client.getInfo();
      assert.ok(info.serial.length > 0, "serial is empty");
      assert.equal(info.protocolVersion, client.transport.channel.protocolVersion);
      assert.equal(info.firmwareVersion, client.transport.channel.firmwareVersion);
      assert.equal(info.publicKey.length, 32);
      assert.ok(info.settleWindowMs > 0, "settle window is 0");
    },
  },
  {
    name: "PING of 0 bytes answers 0 bytes",
    rule: "protocol",
    async run({ client }) {
      assert.deepEqual(await client.ping(new Uint8Array(0)), new Uint8Array(0));
    },
  },
  {
    name: "PING of the maximum size (several continuation reports each way) echoes every byte",
    rule: "protocol",
    async run({ client }) {
      const data = random(MAX_PING_BYTES);
      assert.deepEqual(await client.ping(data), data);
    },
  },
  {
    name: "PING beyond the maximum is refused with BAD_REQUEST",
    rule: "protocol",
    async run({ client }) {
      const answer = await client.callRaw(AppCommand.PING, random(MAX_PING_BYTES + 1));
      assert.equal(answer.status, Status.BAD_REQUEST);
    },
  },
  {
    name: "an unknown command is answered UNKNOWN_COMMAND, signed",
    rule: "protocol",
    async run({ client }) {
      const answer = await client.callRaw(0x7e, new Uint8Array(0));
      assert.equal(answer.status, Status.UNKNOWN_COMMAND);
    },
  },
  {
    name: "a truncated BORROW body is refused with BAD_REQUEST and allocates nothing",
    rule: "protocol",
    async run({ client }) {
      const before = (await client.listLicenses()).map((license) => license.borrowed);
      const answer = await client.callRaw(AppCommand.BORROW, random(20));
      assert.equal(answer.status, Status.BAD_REQUEST);
      assert.deepEqual(
        (await client.listLicenses()).map((license) => license.borrowed),
        before,
      );
    },
  },
  {
    name: "LIST_BORROWS with maxCount 0 is refused with BAD_REQUEST",
    rule: "protocol",
    async run({ client }) {
      const body = new Uint8Array(9); // afterId 0, maxCount 0
      const answer = await client.callRaw(AppCommand.LIST_BORROWS, body);
      assert.equal(answer.status, Status.BAD_REQUEST);
    },
  },
  {
    name: "GET_TIME never goes backwards",
    rule: "protocol",
    async run({ client }) {
      const first = await client.getTime();
      const second = await client.getTime();
      assert.ok(second.keyTimeMs >= first.keyTimeMs, "key clock went backwards");
      assert.ok(first.settleWindowMs > 0);
    },
  },
  {
    name: "OP_STATUS of an opId never used is unknown",
    rule: "protocol",
    async run({ client }) {
      assert.deepEqual(await client.opStatus(random(16)), { known: false });
    },
  },
];

const borrowCases: ConformanceCase[] = [
  {
    name: "BORROW allocates an active record for the asked period and counts it",
    rule: "K1",
    async run({ client }) {
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product, 1);
      try {
        assert.equal(held.record.state, "active");
        assert.equal(held.record.product, license.product);
        assert.equal(held.record.client, CLIENT);
        assert.deepEqual(held.record.binding, held.binding);
        assert.equal(held.record.expiresAt - held.record.issuedAt, DAY_MS);
        assert.equal((await licenseOf(client, license.product)).borrowed, license.borrowed + 1);
      } finally {
        await settleHeld(client, held);
      }
    },
  },
  {
    name: "BORROW for longer than the license's borrow period is a bad request",
    rule: "K1",
    async run({ client }) {
      const license = await borrowableProduct(client);
      await rejectsWithCode(
        client.borrow({
          opId: random(16),
          product: license.product,
          days: license.borrowDays + 1,
          binding: random(32),
          tag: random(16),
          client: CLIENT,
        }),
        "KEY_BAD_REQUEST",
      );
      assert.equal((await licenseOf(client, license.product)).borrowed, license.borrowed);
    },
  },
  {
    name: "BORROW of an unlicensed product is refused with UNKNOWN_PRODUCT",
    rule: "K1",
    async run({ client }) {
      const products = new Set((await client.listLicenses()).map((license) => license.product));
      let product = 0x7fff_fff0;
      while (products.has(product)) product++;
      await rejectsWithCode(borrowOne(client, product), "UNKNOWN_PRODUCT");
    },
  },
  {
    name: "BORROW beyond the borrowable count is refused with NO_BORROWABLE and the text license servers show",
    rule: "K1",
    async run({ client }) {
      const license = await borrowableProduct(client);
      const held: HeldBorrow[] = [];
      try {
        for (let i = license.borrowed; i < license.borrowable; i++) held.push(await borrowOne(client, license.product));
        const error = await rejectsWithCode(borrowOne(client, license.product), "NO_BORROWABLE");
        assert.match(error.message, /No more licenses are available for borrowing/);
      } finally {
        for (const borrow of held) await settleHeld(client, borrow);
      }
      assert.equal((await licenseOf(client, license.product)).borrowed, license.borrowed);
    },
  },
  {
    name: "BORROW repeated with the same opId returns the same record and allocates nothing",
    rule: "K2",
    async run({ client }) {
      const license = await borrowableProduct(client);
      const request = {
        opId: random(16),
        product: license.product,
        days: 1,
        binding: random(32),
        tag: random(16),
        client: CLIENT,
      };
      const first = await client.borrow(request);
      const held = { record: first, binding: request.binding, tag: request.tag };
      try {
        const second = await client.borrow(request);
        assert.equal(second.id, first.id);
        assert.equal((await licenseOf(client, license.product)).borrowed, license.borrowed + 1);
        const status = await client.opStatus(request.opId);
        assert.equal(status.known, true);
        assert.equal(status.kind, "borrow");
        assert.equal(status.borrowId, first.id);
      } finally {
        await settleHeld(client, held);
      }
    },
  },
  {
    name: "SETTLE with matching binding and tag removes the record and frees the seat",
    rule: "K3",
    async run({ client }) {
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product);
      await settleHeld(client, held);
      assert.equal(await recordOf(client, held.record.id), undefined);
      assert.equal((await licenseOf(client, license.product)).borrowed, license.borrowed);
    },
  },
  {
    name: "SETTLE of an unknown id is refused with UNKNOWN_BORROW and changes nothing",
    rule: "K3",
    async run({ client }) {
      const before = await client.listAllBorrows();
      const unknownId = Math.max(0, ...before.map((record) => record.id)) + 1_000_000;
      await rejectsWithCode(
        client.settle({ opId: random(16), id: unknownId, binding: random(32), tag: random(16) }),
        "UNKNOWN_BORROW",
      );
      assert.equal((await client.listAllBorrows()).length, before.length);
    },
  },
  {
    name: "SETTLE with a wrong tag makes a Borrow Dummy that blocks the product until dummyUntil",
    rule: "K3",
    destructive: true,
    needsClockControl: true,
    async run({ client, controls }) {
      assert.ok(controls);
      const license = await borrowableProduct(client, 2);
      const held = await borrowOne(client, license.product);
      const before = await client.getTime();
      const result = await client.settle({
        opId: random(16),
        id: held.record.id,
        binding: held.binding,
        tag: random(16),
      });
      const after = await client.getTime();
      assert.equal(result.outcome, "dummy");
      const period = license.borrowDays * DAY_MS;
      assert.ok(result.dummyUntil !== undefined && result.dummyUntil >= before.keyTimeMs + period);
      assert.ok(result.dummyUntil <= after.keyTimeMs + period);
      const record = await recordOf(client, held.record.id);
      assert.equal(record?.state, "dummy");
      // K1: a dummy blocks borrowing although seats are free.
      await rejectsWithCode(borrowOne(client, license.product), "NO_BORROWABLE");
      await clearDummies(client, controls.advanceClock);
    },
  },
  {
    name: "an expired borrow settled within the settle window is returned normally",
    rule: "K4",
    needsClockControl: true,
    async run({ client, controls }) {
      assert.ok(controls);
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product, 1);
      await controls.advanceClock(DAY_MS + 60_000);
      await settleHeld(client, held);
      assert.equal((await licenseOf(client, license.product)).dummies, 0);
    },
  },
  {
    name: "an expired borrow left unsettled past the settle window becomes a dummy by itself",
    rule: "K4",
    needsClockControl: true,
    destructive: true,
    async run({ client, controls }) {
      assert.ok(controls);
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product, 1);
      const { settleWindowMs } = await client.getTime();
      await controls.advanceClock(DAY_MS + settleWindowMs + 60_000);
      const record = await recordOf(client, held.record.id);
      assert.equal(record?.state, "dummy");
      assert.ok((record?.dummyUntil ?? 0) > held.record.expiresAt);
      await rejectsWithCode(
        client.settle({ opId: random(16), id: held.record.id, binding: held.binding, tag: held.tag }),
        "KEY_NOT_ACTIVE",
      );
      await clearDummies(client, controls.advanceClock);
    },
  },
  {
    name: "a dummy clears at dummyUntil and not a minute before",
    rule: "K5",
    needsClockControl: true,
    destructive: true,
    async run({ client, controls }) {
      assert.ok(controls);
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product);
      const result = await client.settle({ opId: random(16), id: held.record.id, binding: random(32), tag: held.tag });
      assert.equal(result.outcome, "dummy");
      const dummyUntil = result.dummyUntil ?? 0;
      const { keyTimeMs } = await client.getTime();
      await controls.advanceClock(dummyUntil - keyTimeMs - 60_000);
      assert.equal((await recordOf(client, held.record.id))?.state, "dummy");
      await controls.advanceClock(120_000);
      assert.equal(await recordOf(client, held.record.id), undefined);
      assert.equal((await licenseOf(client, license.product)).dummies, 0);
    },
  },
  {
    name: "REBIND with the right old binding and tag moves the borrow; the new binding returns it",
    rule: "K7",
    async run({ client }) {
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product);
      const newBinding = random(32);
      const moved = await client.rebind({
        opId: random(16),
        id: held.record.id,
        oldBinding: held.binding,
        tag: held.tag,
        newBinding,
      });
      assert.equal(moved.id, held.record.id);
      assert.deepEqual(moved.binding, newBinding);
      assert.equal(moved.state, "active");
      await settleHeld(client, { ...held, binding: newBinding });
    },
  },
  {
    name: "REBIND without the tag is refused and the borrow stays where it was",
    rule: "K7",
    async run({ client }) {
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product);
      try {
        await rejectsWithCode(
          client.rebind({
            opId: random(16),
            id: held.record.id,
            oldBinding: held.binding,
            tag: random(16),
            newBinding: random(32),
          }),
          "KEY_REBIND_REFUSED",
        );
        const record = await recordOf(client, held.record.id);
        assert.equal(record?.state, "active");
        assert.deepEqual(record?.binding, held.binding);
      } finally {
        await settleHeld(client, held);
      }
    },
  },
  {
    name: "LIST_BORROWS pages in id order with opIds, and agrees with LIST_LICENSES",
    rule: "K8",
    async run({ client }) {
      const license = await borrowableProduct(client, 2);
      const held = [await borrowOne(client, license.product), await borrowOne(client, license.product)];
      try {
        const all = await client.listAllBorrows();
        const paged = [];
        let afterId = 0;
        for (;;) {
          const page = await client.listBorrows({ afterId, maxCount: 1 });
          assert.ok(page.records.length <= 1);
          paged.push(...page.records);
          if (!page.more) break;
          afterId = page.records[0]?.id ?? assert.fail("a page with more=true but no record");
        }
        assert.deepEqual(
          paged.map((record) => record.id),
          all.map((record) => record.id),
        );
        for (const borrow of held) {
          const listed = all.find((record) => record.id === borrow.record.id);
          assert.deepEqual(listed?.opId, borrow.record.opId);
        }
        for (const usage of await client.listLicenses()) {
          const records = all.filter((record) => record.product === usage.product);
          assert.equal(usage.borrowed, records.filter((record) => record.state === "active").length);
          assert.equal(usage.dummies, records.filter((record) => record.state === "dummy").length);
        }
        assert.ok(MAX_BORROWS_PER_PAGE >= 1);
      } finally {
        for (const borrow of held) await settleHeld(client, borrow);
      }
    },
  },
  {
    name: "answers verify only with the key's own public key",
    rule: "K9",
    async run({ client }) {
      const impostor = new KeyClient(client.transport, random(32), client.info);
      await rejectsWithCode(impostor.getTime(), "PROTOCOL_BAD_SIGNATURE");
      // The real key still answers afterwards.
      await client.getTime();
    },
  },
  {
    name: "a serial pinned to another public key is refused as counterfeit",
    rule: "K9",
    async run({ client }) {
      const pins = new MemoryPinStore();
      pins.pin(client.serial, random(32));
      await rejectsWithCode(connectKey(client.transport, pins), "KEY_COUNTERFEIT");
      const fresh = new MemoryPinStore();
      const connected = await connectKey(client.transport, fresh);
      assert.deepEqual(fresh.get(client.serial), connected.info.publicKey);
    },
  },
  {
    name: "state survives a firmware reboot and the channel is re-allocated",
    rule: "protocol",
    needsClockControl: true,
    async run({ client, controls }) {
      assert.ok(controls?.reboot, "needs a key that can be rebooted");
      const license = await borrowableProduct(client);
      const held = await borrowOne(client, license.product);
      await controls.reboot();
      const record = await recordOf(client, held.record.id);
      assert.equal(record?.state, "active");
      await settleHeld(client, held);
    },
  },
];

/** Every case of the suite, in the order they run. */
export const conformanceCases: readonly ConformanceCase[] = [...protocolCases, ...borrowCases, ...vendorCases];

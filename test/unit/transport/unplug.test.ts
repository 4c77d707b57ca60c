/**
 * Unplug at every report boundary of every command: the caller gets KEY_DISCONNECTED (never a
 * hang, never a timeout), and after replug the key's state is consistent with what OP_STATUS
 * says about the interrupted operation: it either happened completely or not at all.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { KeyClient } from "../../../src/key/key-client.js";
import { connectVirtual, HARNESS_VENDOR, virtualSetup } from "../key/virtual-key-harness.js";

const random = (size: number) => Uint8Array.from(randomBytes(size));
const PRODUCT = 1001;
const TIMEOUT_MS = 3_000;
/** Large enough for a request of five reports; every seat count differs from the demo set's. */
const UPDATED_SET = Array.from({ length: 14 }, (_, i) => ({
  product: 1001 + i,
  seats: 40 + i,
  borrowable: 8,
  borrowDays: 30,
}));

interface Scenario<S> {
  readonly name: string;
  prepare(client: KeyClient): Promise<S>;
  act(client: KeyClient, state: S): Promise<unknown>;
  /** Checks the key after replug; returns whether the operation took effect (per OP_STATUS), if it mutates. */
  check(client: KeyClient, state: S): Promise<boolean | undefined>;
}

interface Held {
  id: number;
  binding: Uint8Array;
  tag: Uint8Array;
  opId: Uint8Array;
}

async function borrow(client: KeyClient): Promise<Held> {
  const held = { binding: random(32), tag: random(16), opId: random(16) };
  const record = await client.borrow({ ...held, product: PRODUCT, days: 1, client: "unplug-test" });
  return { ...held, id: record.id };
}

const scenarios: Scenario<unknown>[] = [
  {
    name: "BORROW",
    prepare: async () => ({ opId: random(16), binding: random(32), tag: random(16) }),
    act: (client, s) =>
      client.borrow({ ...(s as Held), product: PRODUCT, days: 1, client: "unplug-test" }, { timeoutMs: TIMEOUT_MS }),
    async check(client, s) {
      const { opId } = s as Held;
      const status = await client.opStatus(opId);
      const records = await client.listAllBorrows();
      const license = (await client.listLicenses()).find((l) => l.product === PRODUCT);
      if (status.known) {
        expect(records.map((r) => r.id)).toEqual([status.borrowId]);
        expect(records[0]?.opId).toEqual(opId);
        expect(license?.borrowed).toBe(1);
      } else {
        expect(records).toEqual([]);
        expect(license?.borrowed).toBe(0);
      }
      expect(license?.dummies).toBe(0);
      return status.known;
    },
  },
  {
    name: "SETTLE",
    prepare: async (client) => ({ held: await borrow(client), opId: random(16) }),
    act: (client, s) => {
      const { held, opId } = s as { held: Held; opId: Uint8Array };
      return client.settle({ opId, id: held.id, binding: held.binding, tag: held.tag }, { timeoutMs: TIMEOUT_MS });
    },
    async check(client, s) {
      const { held, opId } = s as { held: Held; opId: Uint8Array };
      const status = await client.opStatus(opId);
      const records = await client.listAllBorrows();
      if (status.known) {
        expect(status.settleOutcome).toBe("settled");
        expect(records).toEqual([]);
      } else {
        expect(records.map((r) => [r.id, r.state])).toEqual([[held.id, "active"]]);
      }
      return status.known;
    },
  },
  {
    name: "REBIND",
    prepare: async (client) => ({ held: await borrow(client), opId: random(16), newBinding: random(32) }),
    act: (client, s) => {
      const { held, opId, newBinding } = s as { held: Held; opId: Uint8Array; newBinding: Uint8Array };
      return client.rebind(
        { opId, id: held.id, oldBinding: held.binding, tag: held.tag, newBinding },
        { timeoutMs: TIMEOUT_MS },
      );
    },
    async check(client, s) {
      const { held, opId, newBinding } = s as { held: Held; opId: Uint8Array; newBinding: Uint8Array };
      const status = await client.opStatus(opId);
      const [record] = await client.listAllBorrows();
      expect(record?.state).toBe("active");
      expect(record?.binding).toEqual(status.known ? newBinding : held.binding);
      return status.known;
    },
  },
  {
    // Every boundary of a five-report request: the key has the old set or the new one, never a mix.
    name: "SIGNED_LICENSE_UPDATE (five-report request)",
    prepare: async (client) => ({
      opId: random(16),
      before: (await client.getInfo()).licenseSetVersion,
      counter: (await client.vendorInfo()).updateCounter,
      licenses: (await client.listLicenses()).map(({ product, seats, borrowable, borrowDays }) => ({
        product,
        seats,
        borrowable,
        borrowDays,
      })),
    }),
    act: (client, s) => {
      const { opId, counter } = s as { opId: Uint8Array; counter: number };
      const update = HARNESS_VENDOR.sign({ serial: client.serial, counter: counter + 1, licenses: UPDATED_SET });
      return client.signedLicenseUpdate({ opId, update }, { timeoutMs: TIMEOUT_MS });
    },
    async check(client, s) {
      const { opId, before, counter, licenses } = s as {
        opId: Uint8Array;
        before: number;
        counter: number;
        licenses: readonly { product: number }[];
      };
      const status = await client.opStatus(opId);
      const info = await client.getInfo();
      const vendor = await client.vendorInfo();
      const now = (await client.listLicenses()).map(({ product, seats, borrowable, borrowDays }) => ({
        product,
        seats,
        borrowable,
        borrowDays,
      }));
      expect(info.licenseSetVersion).toBe(status.known ? before + 1 : before);
      expect(vendor.updateCounter).toBe(status.known ? counter + 1 : counter);
      expect(now).toEqual(status.known ? UPDATED_SET : licenses);
      return status.known;
    },
  },
  {
    name: "LIST_BORROWS (multi-report answer)",
    prepare: async (client) => [await borrow(client), await borrow(client), await borrow(client)],
    act: (client) => client.listBorrows({ afterId: 0, maxCount: 32 }, { timeoutMs: TIMEOUT_MS }),
    async check(client, s) {
      const held = s as Held[];
      expect((await client.listAllBorrows()).map((r) => r.id)).toEqual(held.map((h) => h.id));
      return undefined;
    },
  },
  {
    name: "PING of 1024 bytes",
    prepare: async () => random(1024),
    act: (client, s) => client.ping(s as Uint8Array, { timeoutMs: TIMEOUT_MS }),
    async check(client, s) {
      expect(await client.ping(s as Uint8Array)).toEqual(s);
      return undefined;
    },
  },
];

/** Reports (both directions) one run of the scenario's command takes, measured on an undisturbed key. */
async function reportsPerCommand(scenario: Scenario<unknown>): Promise<number> {
  const setup = virtualSetup();
  const { client } = await connectVirtual(setup);
  const state = await scenario.prepare(client);
  const before = setup.key.counters.toKey + setup.key.counters.toHost;
  await scenario.act(client, state);
  const total = setup.key.counters.toKey + setup.key.counters.toHost - before;
  await client.close();
  setup.bus.close();
  return total;
}

describe("unplug at every report boundary", () => {
  for (const scenario of scenarios) {
    it(`${scenario.name}: KEY_DISCONNECTED, then a consistent key after replug`, async () => {
      const total = await reportsPerCommand(scenario);
      expect(total).toBeGreaterThanOrEqual(2);
      const outcomes = new Set<boolean | undefined>();
      for (let atReport = 1; atReport <= total; atReport++) {
        const setup = virtualSetup();
        const { client } = await connectVirtual(setup);
        const state = await scenario.prepare(client);
        setup.key.injectFault({ kind: "unplug", atReport });
        const error = await scenario.act(client, state).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((error as { code?: string } | undefined)?.code, `unplug at report ${atReport} of ${total}`).toBe(
          "KEY_DISCONNECTED",
        );
        // The transport stays failed until reopened.
        const later = await client.getTime().then(
          () => "resolved",
          (e: { code?: string }) => e.code,
        );
        expect(later).toBe("KEY_DISCONNECTED");
        setup.bus.plug(setup.key.serial);
        const replugged = await connectVirtual(setup);
        outcomes.add(await scenario.check(replugged.client, state));
        await replugged.client.close();
        await client.close();
        setup.bus.close();
      }
      // A mutating command was cut both before and after the key applied it.
      if (!outcomes.has(undefined)) expect([...outcomes].sort()).toEqual([false, true]);
    });
  }
});

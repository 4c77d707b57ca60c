import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeySession } from "../../../src/bridge/key-session.js";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import type { KeyClient } from "../../../src/key/index.js";
import type { KeyInfo, LicenseUsage } from "../../../src/protocol/index.js";
import { demoKey, openVirtual } from "./helpers.js";

const SERIAL = "KB-DEMO-0001";
const DAY_MS = 86_400_000;

/** Seat counts as the bridge shows them next to what the key itself holds, per product. */
function counts(bridge: OpenedBridge): { bridge: string[]; key: string[] } {
  const line = (l: LicenseUsage) => `${l.product}: ${l.borrowed} borrowed, ${l.dummies} dummies`;
  const session = bridge.testSeams.keys.session(SERIAL);
  return { bridge: (session?.licenses ?? []).map(line), key: demoKey(bridge).state.licenses.map(line) };
}

function listings(bridge: OpenedBridge): number {
  return bridge.testSeams.keys.session(SERIAL)?.licenseListings ?? -1;
}

describe("seat counts kept from the key's answers", () => {
  it("borrows and returns, one at a time and concurrently, keep the counts equal to the key's without listing it", async () => {
    const bridge = await openVirtual();
    const before = listings(bridge);
    type Step = { kind: "borrow"; product: number; width: number } | { kind: "return"; pick: number; width: number };
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("borrow" as const),
        product: fc.constantFrom(1001, 1002, 1003),
        width: fc.integer({ min: 1, max: 6 }),
      }),
      fc.record({ kind: fc.constant("return" as const), pick: fc.nat(), width: fc.integer({ min: 1, max: 6 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps: Step[]) => {
        for (const s of steps) {
          if (s.kind === "borrow") {
            // Some of these run out of seats (NO_BORROWABLE): refusals change nothing.
            await Promise.allSettled(
              Array.from({ length: s.width }, (_, i) => bridge.borrow({ product: s.product, client: `c${i}` })),
            );
          } else {
            const out = await bridge.borrows();
            const chosen = out.slice(s.pick % Math.max(1, out.length)).slice(0, s.width);
            await Promise.all(chosen.map((borrow) => bridge.returnBorrow(borrow.id)));
          }
          const now = counts(bridge);
          expect(now.bridge).toEqual(now.key);
        }
      }),
      { numRuns: 15 },
    );
    // Only refusals the counts did not predict may list the key; these never happen here.
    expect(listings(bridge)).toBe(before);
  });

  it("a dummy the key made by itself (K4) is found when the key refuses a borrow the counts allowed", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1002, client: "ws-1", days: 1 });
    // Behind the bridge's back: past expiry and the settle window, so the key makes a dummy itself.
    demoKey(bridge).advanceClock(2 * DAY_MS + 60_000);
    expect(demoKey(bridge).state.borrows.map((b) => `${b.id}:${b.state}`)).toEqual([`${borrow.id}:dummy`]);
    await expect(bridge.borrow({ product: 1002, client: "ws-2" })).rejects.toMatchObject({ code: "NO_BORROWABLE" });
    await bridge.testSeams.keys.session(SERIAL)?.refreshLicenses();
    const now = counts(bridge);
    expect(now.bridge).toEqual(now.key);
    expect(now.bridge).toContain("1002: 0 borrowed, 1 dummies");
  });

  it("a listing older than the refresh period is renewed; a fresh one is left alone", async () => {
    const bridge = await openVirtual();
    const session = bridge.testSeams.keys.session(SERIAL);
    const before = listings(bridge);
    bridge.testSeams.keys.refreshStaleLicenses(60_000);
    expect(listings(bridge)).toBe(before);
    bridge.testSeams.keys.refreshStaleLicenses(60_000, Date.now() + 61_000);
    expect(listings(bridge)).toBe(before + 1);
    await session?.refreshLicenses();
  });
});

/** A client whose LIST_LICENSES answers only when the test says, with the counts the test gives. */
function slowClient(): { client: KeyClient; answer(licenses: LicenseUsage[]): void } {
  let answer: (licenses: LicenseUsage[]) => void = () => undefined;
  const client = {
    listLicenses: () =>
      new Promise<LicenseUsage[]>((resolve) => {
        answer = resolve;
      }),
  } as unknown as KeyClient;
  return { client, answer: (licenses) => answer(licenses) };
}

const license = (borrowed: number, dummies = 0): LicenseUsage => ({
  product: 7,
  seats: 10,
  borrowable: 10,
  borrowDays: 30,
  borrowed,
  dummies,
});

function sessionWith(client: KeyClient, start: LicenseUsage): KeySession {
  const info = { keyTimeMs: Date.now(), settleWindowMs: DAY_MS } as KeyInfo;
  const session = new KeySession("KB-T", info, "p");
  session.attach({ ...client, info } as KeyClient, "p", { keyTimeMs: info.keyTimeMs, licenses: [start] });
  return session;
}

describe("KeySession: a listing racing with answers", () => {
  it("a change queued before the listing is in it and not counted twice, whenever its answer is applied", async () => {
    const { client, answer } = slowClient();
    const session = sessionWith(client, license(0));
    const borrowSeq = session.nextSequence(); // BORROW queued first: the key does it before the listing
    const refresh = session.refreshLicenses();
    answer([license(1)]);
    await refresh;
    session.noteBorrowed(7, borrowSeq); // its answer handled late
    expect(session.licenses[0]?.borrowed).toBe(1);
  });

  it("a change queued after the listing but answered before it is kept on top of the listing", async () => {
    const { client, answer } = slowClient();
    const session = sessionWith(client, license(3));
    const refresh = session.refreshLicenses();
    const settleSeq = session.nextSequence(); // queued after LIST: the key's listing does not hold it
    session.noteSettled(7, "dummy", settleSeq);
    expect(session.licenses[0]).toMatchObject({ borrowed: 2, dummies: 1 });
    answer([license(3)]);
    await refresh;
    expect(session.licenses[0]).toMatchObject({ borrowed: 2, dummies: 1 });
  });

  it("a proven borrow takes the last seat, and a settle frees it", () => {
    const { client } = slowClient();
    const session = sessionWith(client, license(9)); // 10 borrowable, 9 borrowed: one seat left
    expect(session.looksBlocked(7)).toBe(false);
    session.noteBorrowed(7, session.nextSequence());
    expect(session.licenses[0]?.borrowed).toBe(10);
    expect(session.looksBlocked(7)).toBe(true);
    session.noteSettled(7, "settled", session.nextSequence());
    expect(session.looksBlocked(7)).toBe(false);
  });

  it("counts a settle that made a dummy as one borrowed fewer and one dummy more", () => {
    const { client } = slowClient();
    const session = sessionWith(client, license(2));
    session.noteSettled(7, "settled", session.nextSequence());
    session.noteSettled(7, "dummy", session.nextSequence());
    expect(session.licenses[0]).toMatchObject({ borrowed: 0, dummies: 1 });
    expect(session.looksBlocked(7)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import type { BridgeEvent } from "../../../src/bridge/api.js";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { demoKey, openVirtual } from "./helpers.js";

const DAY = 24 * 60 * 60 * 1000;
const SERIAL = "KB-DEMO-0001";

function dummyEvents(bridge: OpenedBridge): BridgeEvent[] {
  const seen: BridgeEvent[] = [];
  bridge.events$.subscribe((event) => {
    if (event.type === "borrow.dummy") seen.push(event);
  });
  return seen;
}

/** The key's own record of the borrow: its state and when its dummy clears. */
function onKey(bridge: OpenedBridge, id: number) {
  const record = demoKey(bridge).state.borrows.find((candidate) => candidate.id === id);
  return { state: record?.state, dummyUntil: record?.dummyUntil };
}

/** Everything a user looks at says the borrow is a dummy until the key's own clear date. */
async function expectShownAsDummy(bridge: OpenedBridge, id: number, events: BridgeEvent[]): Promise<void> {
  const { state, dummyUntil } = onKey(bridge, id);
  expect(state).toBe("dummy");
  const until = new Date(dummyUntil as number).toISOString();
  const row = bridge.testSeams.ledger.getBorrow(SERIAL, id);
  expect(row).toMatchObject({ state: "dummy", dummyUntil });
  expect(await bridge.borrows({ state: "dummy" })).toEqual([
    expect.objectContaining({ id, state: "dummy", dummyUntil: until }),
  ]);
  expect((await bridge.status()).dummies).toEqual([
    expect.objectContaining({ serial: SERIAL, borrowId: id, dummyUntil: until, blocksProduct: true }),
  ]);
  expect(events.map((event) => [event.borrow?.id, event.borrow?.dummyUntil])).toEqual([[id, until]]);
  expect(events[0]?.message).toContain(until);
  expect((await bridge.audit({ kind: "dummy", limit: 5 })).map((entry) => entry.borrowId)).toEqual([id]);
}

describe("dummies the key made by itself are shown at once", () => {
  it("a clock jump past the settle window: the sweep finds the dummy, the ledger and events say so", async () => {
    const bridge = await openVirtual();
    const events = dummyEvents(bridge);
    const borrow = await bridge.borrow({ product: 1002, client: "laptop-7", days: 2 });
    const settleWindow = demoKey(bridge).state.settleWindowMs;
    await bridge.virtual?.advanceClock(2 * DAY + settleWindow + 60_000);
    await expectShownAsDummy(bridge, borrow.id, events);
  });

  it("a borrow bound to another host identity, which the sweep never settles, shows as a dummy once the key made it one", async () => {
    const bridge = await openVirtual();
    const events = dummyEvents(bridge);
    const borrow = await bridge.borrow({ product: 1002, client: "laptop-7", days: 1 });
    await bridge.virtual?.setHost({ ip: "198.51.100.7" });
    const settleWindow = demoKey(bridge).state.settleWindowMs;
    await bridge.virtual?.advanceClock(DAY + settleWindow + 60_000);
    await expectShownAsDummy(bridge, borrow.id, events);
  });

  it("a return the key refuses with NOT_ACTIVE reports the dummy and its clear date, never `returned`", async () => {
    const bridge = await openVirtual();
    const events = dummyEvents(bridge);
    const borrow = await bridge.borrow({ product: 1002, client: "laptop-7", days: 2 });
    // The key's clock moves without the bridge hearing of it (the daemon was down over a holiday).
    demoKey(bridge).advanceClock(2 * DAY + demoKey(bridge).state.settleWindowMs + 60_000);
    const result = await bridge.returnBorrow(borrow.id);
    expect(result.outcome).toBe("dummy");
    expect(result.borrow).toMatchObject({ id: borrow.id, state: "dummy" });
    expect(result.borrow.dummyUntil).toBe(new Date(onKey(bridge, borrow.id).dummyUntil as number).toISOString());
    await expectShownAsDummy(bridge, borrow.id, events);
  });

  it("reconcile writes a dummy its listing shows into the ledger at once", async () => {
    const bridge = await openVirtual();
    const events = dummyEvents(bridge);
    const borrow = await bridge.borrow({ product: 1002, client: "laptop-7", days: 2 });
    demoKey(bridge).advanceClock(2 * DAY + demoKey(bridge).state.settleWindowMs + 60_000);
    const report = await bridge.reconcile();
    expect(report.dummies.map((dummy) => dummy.borrowId)).toEqual([borrow.id]);
    await expectShownAsDummy(bridge, borrow.id, events);
  });
});

describe("what a return reports", () => {
  it("a returned borrow shows as returned, not active", async () => {
    const bridge = await openVirtual();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-01" });
    const result = await bridge.returnBorrow(borrow.id);
    expect(result).toMatchObject({ outcome: "returned", borrow: { id: borrow.id, state: "returned" } });
  });

  it("a return the key answers with a dummy (a tag that does not match) is reported as the dummy", async () => {
    const bridge = await openVirtual();
    const events = dummyEvents(bridge);
    const borrow = await bridge.borrow({ product: 1001, client: "ws-01" });
    // The ledger's tag no longer matches the key's (an edited import would do this).
    const row = bridge.testSeams.ledger.getBorrow(SERIAL, borrow.id);
    if (row === undefined) throw new Error("no row");
    const edited = bridge.testSeams.ledger.upsertBorrow({ ...row, tag: "ab".repeat(16) });
    bridge.testSeams.index.put(edited);
    const result = await bridge.returnBorrow(borrow.id);
    expect(result.outcome).toBe("dummy");
    expect(result.borrow.state).toBe("dummy");
    expect(result.borrow.dummyUntil).toBe(new Date(onKey(bridge, borrow.id).dummyUntil as number).toISOString());
    expect(events.map((event) => event.borrow?.id)).toEqual([borrow.id]);
  });
});

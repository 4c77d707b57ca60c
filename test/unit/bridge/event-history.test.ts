import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BridgeEvent } from "../../../src/bridge/api.js";
import { EventBus } from "../../../src/bridge/event-bus.js";

function busWith(count: number, size?: number): EventBus {
  const bus = new EventBus(size);
  for (let i = 1; i <= count; i++) bus.emit("borrow.created", `borrow ${i}`, { serial: "KB-1" });
  return bus;
}

describe("event history", () => {
  it("numbers events from 1 and hands live subscribers the same numbered event it keeps", () => {
    const bus = new EventBus();
    const live: BridgeEvent[] = [];
    const subscription = bus.events$.subscribe((event) => live.push(event));
    bus.emit("key.attached", "key KB-1 attached", { serial: "KB-1" });
    bus.emit("key.detached", "key KB-1 detached", { serial: "KB-1" });
    subscription.unsubscribe();
    expect(live.map((event) => event.seq)).toEqual([1, 2]);
    const history = bus.history();
    expect(history.events).toEqual(live);
    expect(history).toMatchObject({ lastSeq: 2, truncated: false });
    expect(history.runId).toMatch(/^[0-9a-f]{8}$/);
  });

  it("gives what came after a sequence number, and says when older ones were dropped", () => {
    const bus = busWith(12, 5);
    expect(bus.history({ after: 10 }).events.map((e) => e.seq)).toEqual([11, 12]);
    expect(bus.history({ after: 10 }).truncated).toBe(false);
    const late = bus.history({ after: 3 });
    expect(late.events.map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(late.truncated).toBe(true);
    expect(bus.history({ limit: 2 })).toMatchObject({ truncated: true, lastSeq: 12 });
    expect(bus.history({ after: 12 }).events).toEqual([]);
  });

  it("two runs have different run ids, so a reader can tell a restarted daemon", () => {
    expect(new EventBus().runId).not.toBe(new EventBus().runId);
  });

  it("refuses a history size that keeps nothing", () => {
    expect(() => new EventBus(0)).toThrow(RangeError);
  });

  it("matches a model of 'the newest kept events after `after`, at most `limit`' for any sizes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 70 }),
        fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }),
        (size, emitted, after, limit) => {
          const result = busWith(emitted, size).history({ after, ...(limit === undefined ? {} : { limit }) });
          const kept = Array.from({ length: emitted }, (_, i) => i + 1).slice(-size);
          const wanted = kept.filter((seq) => seq > after);
          const expected = limit === undefined ? wanted : wanted.slice(Math.max(0, wanted.length - limit));
          expect(result.events.map((event) => event.seq)).toEqual(expected);
          expect(result.lastSeq).toBe(emitted);
          const missedSome = Math.min(after, emitted) + 1 <= emitted && expected[0] !== Math.min(after, emitted) + 1;
          expect(result.truncated).toBe(missedSome);
        },
      ),
    );
  });
});

import { describe, expect, it } from "vitest";
import type { BridgeEvent } from "../../../../src/bridge/api.js";
import { EventBus } from "../../../../src/bridge/event-bus.js";
import { Notifier } from "../../../../src/server/notify/index.js";
import { fakeSender, target, until } from "./fake-sender.js";

function busSource(bus: EventBus) {
  return { events$: bus.events$, recentEvents: (options?: { after?: number; limit?: number }) => bus.history(options) };
}

const raise = (bus: EventBus, message: string) => bus.emit("risk.raised", message, { serial: "KB-1" });

describe("Notifier", () => {
  it("tells each webhook the events it asked for, including those published before it started, once each", async () => {
    const bus = new EventBus();
    raise(bus, "found while starting");
    bus.emit("key.attached", "attached");
    const { send, calls } = fakeSender();
    const ops = target("ops");
    const everything = { ...target("all"), events: new Set<BridgeEvent["type"]>(["risk.raised", "key.attached"]) };
    const notifier = new Notifier(busSource(bus), [ops, everything], { sender: send, host: "licsrv01" });
    notifier.start();
    notifier.start();
    raise(bus, "later");
    bus.emit("borrow.created", "not asked for by anyone");
    await until(() => calls.length === 5);
    const seen = calls.map((call) => `${call.webhook}:${JSON.parse(call.body).message}`).sort();
    expect(seen).toEqual([
      "all:attached",
      "all:found while starting",
      "all:later",
      "ops:found while starting",
      "ops:later",
    ]);
    expect(JSON.parse(calls[0]?.body ?? "{}")).toMatchObject({ host: "licsrv01", id: `${bus.runId}-1` });
    await notifier.close(100);
  });

  it("after close nothing more is sent and the subscription is gone", async () => {
    const bus = new EventBus();
    const { send, calls } = fakeSender();
    const notifier = new Notifier(busSource(bus), [target()], { sender: send });
    notifier.start();
    raise(bus, "one");
    await until(() => calls.length === 1);
    await notifier.close(100);
    raise(bus, "two");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toHaveLength(1);
  });

  it("lists each webhook with its counts, and never its path", async () => {
    const bus = new EventBus();
    const { send } = fakeSender(() => ({ status: 500 }));
    const notifier = new Notifier(busSource(bus), [target("ops")], { sender: send, retryDelaysMs: [] });
    notifier.start();
    raise(bus, "one");
    await until(() => notifier.webhooks()[0]?.failed === 1);
    expect(notifier.webhooks()).toEqual([
      {
        name: "ops",
        url: "http://ops.example/…",
        events: ["risk.raised", "risk.cleared"],
        format: "json",
        signed: false,
        delivered: 0,
        failed: 1,
        dropped: 0,
        retried: 0,
        pending: 0,
        last: { at: expect.any(String), ok: false, type: "risk.raised", result: "HTTP 500" },
      },
    ]);
    await notifier.close(10);
  });

  it("test() sends one notify.test to each webhook or the one named; an unknown name is WEBHOOK_NOT_FOUND", async () => {
    const bus = new EventBus();
    const { send, calls } = fakeSender();
    const notifier = new Notifier(busSource(bus), [target("ops"), target("chat")], { sender: send });
    const all = await notifier.test();
    expect(all.map((result) => [result.name, result.ok, result.result])).toEqual([
      ["ops", true, "HTTP 204"],
      ["chat", true, "HTTP 204"],
    ]);
    expect(calls.every((call) => call.type === "notify.test" && call.id === `${bus.runId}-test`)).toBe(true);
    const one = await notifier.test("chat");
    expect(one.map((result) => result.name)).toEqual(["chat"]);
    await expect(notifier.test("pager")).rejects.toMatchObject({
      code: "WEBHOOK_NOT_FOUND",
      message: "no webhook named 'pager'; configured: ops, chat",
    });
    await notifier.close(10);
  });

  it("without webhooks it does not subscribe at all", () => {
    const bus = new EventBus();
    let subscribed = 0;
    const source = {
      events$: {
        subscribe: () => {
          subscribed++;
          return { unsubscribe() {} };
        },
      } as unknown as EventBus["events$"],
      recentEvents: () => bus.history(),
    };
    const notifier = new Notifier(source, []);
    notifier.start();
    expect(subscribed).toBe(0);
    expect(notifier.webhooks()).toEqual([]);
  });
});

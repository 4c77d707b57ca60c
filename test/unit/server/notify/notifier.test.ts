import { describe, expect, it } from "vitest";
import type { BridgeEvent } from "../../../../src/bridge/api.js";
import { EventBus } from "../../../../src/bridge/event-bus.js";
import { Notifier } from "../../../../src/server/notify/index.js";
import { captureLogs } from "../../log-capture.js";
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
    const logs = captureLogs();
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
        holdMs: 0,
        delivered: 0,
        failed: 1,
        dropped: 0,
        retried: 0,
        pending: 0,
        suppressed: 0,
        last: { at: expect.any(String), ok: false, type: "risk.raised", result: "HTTP 500" },
      },
    ]);
    await notifier.close(10);
    // The failure is logged with the URL as shown, never its path.
    expect(logs.matching("error", /^a notification could not be delivered$/)).toMatchObject([
      { webhook: "ops", url: "http://ops.example/…", result: "HTTP 500" },
    ]);
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

describe("Notifier with a hold on raised risks", () => {
  const risk = (
    kind: "key-unplugged" | "registry-lost",
    serial?: string,
    source: "keybridge" | "codemeter" = "keybridge",
  ) => ({
    kind,
    source,
    severity: "critical" as const,
    message: `${kind} ${serial ?? ""}`,
    advice: "do something",
    since: new Date().toISOString(),
    ...(serial === undefined ? {} : { serial }),
  });
  const raiseRisk = (bus: EventBus, r: ReturnType<typeof risk>) =>
    bus.emit("risk.raised", r.message, { ...(r.serial === undefined ? {} : { serial: r.serial }), risk: r });
  const clearRisk = (bus: EventBus, r: ReturnType<typeof risk>) =>
    bus.emit("risk.cleared", `resolved: ${r.message}`, {
      ...(r.serial === undefined ? {} : { serial: r.serial }),
      risk: r,
    });

  it("sends neither the raise nor the clearing of a risk that clears within the hold", async () => {
    const bus = new EventBus();
    const { send, calls } = fakeSender();
    const notifier = new Notifier(busSource(bus), [{ ...target(), holdMs: 200 }], { sender: send });
    notifier.start();
    const unplugged = risk("key-unplugged", "KB-1");
    raiseRisk(bus, unplugged);
    expect(notifier.webhooks()[0]).toMatchObject({ pending: 1, holdMs: 200 });
    clearRisk(bus, unplugged);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls).toEqual([]);
    expect(notifier.webhooks()[0]).toMatchObject({ pending: 0, suppressed: 1, delivered: 0 });
    await notifier.close(10);
  });

  it("sends a risk still open when the hold ends, and its clearing later; other risks are not confused with it", async () => {
    const bus = new EventBus();
    const { send, calls } = fakeSender();
    // This webhook does not take risk.cleared; a clearing of ANOTHER risk must not cancel the held one.
    const raisesOnly = { ...target("pager"), holdMs: 50, events: new Set<BridgeEvent["type"]>(["risk.raised"]) };
    const both = { ...target("chat"), holdMs: 50 };
    const notifier = new Notifier(busSource(bus), [raisesOnly, both], { sender: send });
    notifier.start();
    const one = risk("key-unplugged", "KB-1");
    const other = risk("key-unplugged", "KB-2");
    raiseRisk(bus, one);
    raiseRisk(bus, other);
    clearRisk(bus, other);
    await until(() => calls.length === 2);
    expect(calls.map((call) => `${call.webhook}:${call.type}:${JSON.parse(call.body).serial}`).sort()).toEqual([
      "chat:risk.raised:KB-1",
      "pager:risk.raised:KB-1",
    ]);
    clearRisk(bus, one);
    await until(() => calls.length === 3);
    expect(calls[2]).toMatchObject({ webhook: "chat", type: "risk.cleared" });
    expect(notifier.webhooks().map((hook) => hook.suppressed)).toEqual([1, 1]);
    await notifier.close(10);
  });

  it("a CodeMeter risk's clearing does not cancel keybridge's held risk of the same kind and key", async () => {
    const bus = new EventBus();
    const { send, calls } = fakeSender();
    const notifier = new Notifier(busSource(bus), [{ ...target(), holdMs: 50 }], { sender: send });
    notifier.start();
    const own = risk("key-unplugged", "3-6903986");
    const theirs = risk("key-unplugged", "3-6903986", "codemeter");
    raiseRisk(bus, own);
    raiseRisk(bus, theirs);
    clearRisk(bus, theirs);
    await until(() => calls.length === 1);
    expect(JSON.parse(calls[0]?.body ?? "{}").risk.source).toBe("keybridge");
    expect(notifier.webhooks()[0]?.suppressed).toBe(1);
    await notifier.close(10);
  });

  it("a webhook that takes only raises still drops a raise cancelled by its clearing", async () => {
    const bus = new EventBus();
    const { send, calls } = fakeSender();
    const raisesOnly = { ...target("pager"), holdMs: 100, events: new Set<BridgeEvent["type"]>(["risk.raised"]) };
    const notifier = new Notifier(busSource(bus), [raisesOnly], { sender: send });
    notifier.start();
    const lost = risk("registry-lost");
    raiseRisk(bus, lost);
    clearRisk(bus, lost);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(calls).toEqual([]);
    await notifier.close(10);
  });

  it("on close, a held raise is sent at once: the risk is still open", async () => {
    const bus = new EventBus();
    const { send, calls } = fakeSender();
    const notifier = new Notifier(busSource(bus), [{ ...target(), holdMs: 3_600_000 }], { sender: send });
    notifier.start();
    raiseRisk(bus, risk("key-unplugged", "KB-1"));
    await notifier.close(1_000);
    expect(calls.map((call) => call.type)).toEqual(["risk.raised"]);
  });
});

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EventBus } from "../../../../src/bridge/event-bus.js";
import { Notifier, Outbox } from "../../../../src/server/notify/index.js";
import { WebhookQueue } from "../../../../src/server/notify/webhook-queue.js";
import { captureLogs } from "../../log-capture.js";
import { delivery, fakeSender, target, until } from "./fake-sender.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-outbox-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** An in-memory keeper that records what the queue keeps and releases. */
function keeper() {
  const kept = new Map<number, string>();
  let next = 1;
  return {
    kept,
    keep: (_webhook: string, d: { id: string }) => {
      kept.set(next, d.id);
      return next++;
    },
    release: (id: number) => void kept.delete(id),
  };
}

describe("Outbox", () => {
  it("keeps deliveries in a 0600 file across reopening, in order, until removed", () => {
    const file = join(dir, "notify-outbox.db");
    const outbox = Outbox.open(file);
    const first = outbox.add("ops", delivery(1));
    outbox.add("chat", delivery(2, "borrow.dummy"));
    outbox.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = Outbox.open(file);
    expect(again.pending().map((row) => [row.webhook, row.delivery.id, row.delivery.type])).toEqual([
      ["ops", "run-1", "risk.raised"],
      ["chat", "run-2", "borrow.dummy"],
    ]);
    again.remove(first);
    expect(again.pending().map((row) => row.delivery.id)).toEqual(["run-2"]);
    again.close();
  });

  it("an unopenable file is NOTIFY_OUTBOX_IO naming it", () => {
    const file = join(dir, "missing-dir", "outbox.db");
    expect(() => Outbox.open(file)).toThrow(
      expect.objectContaining({ code: "NOTIFY_OUTBOX_IO", message: expect.stringContaining(file) }),
    );
  });
});

describe("WebhookQueue with an outbox", () => {
  it("releases a delivery once delivered, given up or dropped", async () => {
    const logs = captureLogs();
    const k = keeper();
    const { send } = fakeSender((d) => (d.id === "run-2" ? { status: 400 } : { status: 204 }));
    const queue = new WebhookQueue(target(), send, { retryDelaysMs: [], maxPending: 50 }, k);
    queue.push(delivery(1));
    queue.push(delivery(2));
    await until(() => queue.stats.delivered === 1 && queue.stats.failed === 1);
    expect(k.kept.size).toBe(0);
    await queue.close(100);
    expect(logs.matching("error", /^a notification could not be delivered$/)).toMatchObject([
      { delivery: "run-2", result: "HTTP 400" },
    ]);
  });

  it("keeps what a receiver did not take while the daemon stopped, and does not count it as dropped", async () => {
    const k = keeper();
    const { send, calls } = fakeSender(() => ({ error: "connect ECONNREFUSED 127.0.0.1:9" }));
    const queue = new WebhookQueue(target(), send, { retryDelaysMs: [60_000], maxPending: 50 }, k);
    queue.push(delivery(1));
    queue.push(delivery(2));
    await until(() => queue.stats.retried === 1);
    await queue.close(1_000);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect([...k.kept.values()]).toEqual(["run-1", "run-2"]);
    expect(queue.stats).toMatchObject({ failed: 0, dropped: 0, pending: 0 });
  });
});

describe("Notifier with an outbox file", () => {
  it("a notification the receiver missed before a restart is sent after it, with its first delivery id", async () => {
    const file = join(dir, "notify-outbox.db");
    const firstBus = new EventBus();
    const down = fakeSender(() => ({ error: "connect ECONNREFUSED 127.0.0.1:9" }));
    const source = (bus: EventBus) => ({
      events$: bus.events$,
      recentEvents: (o?: { after?: number }) => bus.history(o),
    });
    const first = new Notifier(source(firstBus), [target("ops")], {
      sender: down.send,
      outboxFile: file,
      retryDelaysMs: [60_000],
    });
    first.start();
    firstBus.emit("risk.raised", "key unplugged", { serial: "KB-1" });
    await until(() => first.webhooks()[0]?.retried === 1);
    await first.close(200);
    const missedId = `${firstBus.runId}-1`;

    const secondBus = new EventBus();
    const up = fakeSender();
    const second = new Notifier(source(secondBus), [target("ops")], { sender: up.send, outboxFile: file });
    second.start();
    secondBus.emit("risk.cleared", "key back", { serial: "KB-1" });
    await until(() => up.calls.length === 2);
    expect(up.calls.map((call) => [call.id, call.type])).toEqual([
      [missedId, "risk.raised"],
      [`${secondBus.runId}-1`, "risk.cleared"],
    ]);
    await until(() => second.webhooks()[0]?.delivered === 2);
    await second.close(100);
    const outbox = Outbox.open(file);
    expect(outbox.pending()).toEqual([]);
    outbox.close();
  });

  it("drops what was kept for a webhook that is no longer configured", async () => {
    const file = join(dir, "notify-outbox.db");
    const outbox = Outbox.open(file);
    outbox.add("gone", delivery(1));
    outbox.close();
    const bus = new EventBus();
    const { send, calls } = fakeSender();
    const notifier = new Notifier(
      { events$: bus.events$, recentEvents: (o?: { after?: number }) => bus.history(o) },
      [target("ops")],
      { sender: send, outboxFile: file },
    );
    notifier.start();
    await notifier.close(100);
    expect(calls).toEqual([]);
    const after = Outbox.open(file);
    expect(after.pending()).toEqual([]);
    after.close();
  });

  it("without webhooks no outbox file is made", async () => {
    const file = join(dir, "notify-outbox.db");
    const bus = new EventBus();
    const notifier = new Notifier({ events$: bus.events$, recentEvents: () => bus.history() }, [], {
      outboxFile: file,
    });
    notifier.start();
    await notifier.close();
    expect(() => statSync(file)).toThrow();
  });
});

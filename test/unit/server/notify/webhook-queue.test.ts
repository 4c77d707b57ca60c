import { getEventListeners } from "node:events";
import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { fetchSender, type Sender } from "../../../../src/server/notify/index.js";
import { WebhookQueue } from "../../../../src/server/notify/webhook-queue.js";
import { captureLogs } from "../../log-capture.js";
import { delivery, fakeSender, target, until } from "./fake-sender.js";

const tuning = { retryDelaysMs: [10, 10, 10], maxPending: 50 };

describe("WebhookQueue", () => {
  it("sends deliveries one at a time, in the order they came", async () => {
    let inFlight = 0;
    let most = 0;
    const { send, calls } = fakeSender(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
      return { status: 200 };
    });
    const queue = new WebhookQueue(target(), send, tuning);
    for (let n = 1; n <= 20; n++) queue.push(delivery(n));
    await until(() => queue.stats.delivered === 20);
    expect(calls.map((call) => call.id)).toEqual(Array.from({ length: 20 }, (_, i) => `run-${i + 1}`));
    expect(most).toBe(1);
    expect(queue.stats).toMatchObject({ delivered: 20, failed: 0, retried: 0, pending: 0, last: { ok: true } });
    await queue.close(100);
  });

  it("retries a 503, a timeout or a refused connection, and the next delivery waits its turn", async () => {
    const { send, calls } = fakeSender((d, attempt) => {
      if (d.id === "run-1" && attempt === 1) return { status: 503 };
      if (d.id === "run-1" && attempt === 2) return { error: "timed out after 5000 ms" };
      return { status: 204 };
    });
    const queue = new WebhookQueue(target(), send, tuning);
    queue.push(delivery(1));
    queue.push(delivery(2));
    await until(() => queue.stats.delivered === 2);
    expect(calls.map((call) => call.id)).toEqual(["run-1", "run-1", "run-1", "run-2"]);
    expect(queue.stats).toMatchObject({ delivered: 2, retried: 2, failed: 0 });
    await queue.close(100);
  });

  it("gives up at once on a final answer (400, a redirect) and goes on with the next", async () => {
    const { send, calls } = fakeSender((d) =>
      d.id === "run-1" ? { status: 400 } : d.id === "run-2" ? { status: 301 } : { status: 202 },
    );
    const logs = captureLogs();
    const queue = new WebhookQueue(target(), send, tuning);
    for (const n of [1, 2, 3]) queue.push(delivery(n));
    await until(() => queue.stats.delivered === 1);
    expect(calls.map((call) => call.id)).toEqual(["run-1", "run-2", "run-3"]);
    expect(queue.stats).toMatchObject({ delivered: 1, failed: 2, retried: 0 });
    await queue.close(100);
    // Each delivery given up on is logged with the answer that ended it.
    const given = logs.matching("error", /^a notification could not be delivered$/);
    expect(given.map((line) => [line.delivery, line.attempts, line.result])).toEqual([
      ["run-1", 1, "HTTP 400"],
      ["run-2", 1, expect.stringMatching(/^HTTP 301/)],
    ]);
  });

  it("gives up after the last pause of the schedule", async () => {
    const logs = captureLogs();
    const { send, calls } = fakeSender(() => ({ status: 500 }));
    const queue = new WebhookQueue(target(), send, tuning);
    queue.push(delivery(1));
    await until(() => queue.stats.failed === 1);
    expect(calls).toHaveLength(tuning.retryDelaysMs.length + 1);
    expect(queue.stats).toMatchObject({ failed: 1, retried: 3, pending: 0, last: { ok: false, result: "HTTP 500" } });
    await queue.close(100);
    expect(logs.matching("error", /^a notification could not be delivered$/)).toMatchObject([
      { delivery: "run-1", attempts: tuning.retryDelaysMs.length + 1, result: "HTTP 500" },
    ]);
  });

  it("waits at least as long as the receiver's Retry-After", async () => {
    const { send, calls } = fakeSender((_d, attempt) =>
      attempt === 1 ? { status: 429, retryAfterMs: 150 } : { status: 204 },
    );
    const queue = new WebhookQueue(target(), send, tuning);
    queue.push(delivery(1));
    await until(() => queue.stats.delivered === 1);
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(145);
    await queue.close(100);
  });

  it("a full queue drops the oldest waiting delivery, never the one being sent", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { send, calls } = fakeSender(async () => {
      await gate;
      return { status: 204 };
    });
    const queue = new WebhookQueue(target(), send, { retryDelaysMs: [], maxPending: 2 });
    for (const n of [1, 2, 3, 4]) queue.push(delivery(n));
    await until(() => calls.length === 1);
    expect(queue.stats).toMatchObject({ dropped: 1, pending: 3 });
    release();
    await until(() => queue.stats.delivered === 3);
    expect(calls.map((call) => call.id)).toEqual(["run-1", "run-3", "run-4"]);
    await queue.close(100);
  });

  it("on close, a delivery waiting out a pause gets one last attempt at once, and nothing is taken after", async () => {
    const { send, calls } = fakeSender((_d, attempt) => (attempt === 1 ? { status: 503 } : { status: 204 }));
    const queue = new WebhookQueue(target(), send, { retryDelaysMs: [60_000], maxPending: 10 });
    queue.push(delivery(1));
    await until(() => queue.stats.retried === 1);
    // A close that waited out the minute's pause would fail this test by its timeout.
    await queue.close(60_000);
    expect(calls).toHaveLength(2);
    expect(queue.stats).toMatchObject({ delivered: 1, pending: 0 });
    queue.push(delivery(2));
    expect(queue.stats.pending).toBe(0);
  });

  it("on close, a receiver that does not answer is cut off after the drain time and what waits is dropped", async () => {
    const logs = captureLogs();
    const { send } = fakeSender(() => new Promise(() => {}));
    const queue = new WebhookQueue(target(), send, tuning);
    for (const n of [1, 2, 3]) queue.push(delivery(n));
    await queue.close(50);
    expect(queue.stats).toMatchObject({ delivered: 0, failed: 1, dropped: 2, pending: 0 });
    expect(logs.matching("error", /^a notification could not be delivered$/)).toMatchObject([
      { delivery: "run-1", result: expect.stringMatching(/^stopped: the daemon is shutting down/) },
    ]);
  });

  it("sendOnce reports the answer without queueing or retrying", async () => {
    const { send, calls } = fakeSender(() => ({ status: 502 }));
    const queue = new WebhookQueue(target(), send, tuning);
    await expect(queue.sendOnce(delivery(9, "notify.test"))).resolves.toEqual({ ok: false, result: "HTTP 502" });
    expect(calls).toHaveLength(1);
    expect(queue.stats).toMatchObject({
      delivered: 0,
      failed: 0,
      retried: 0,
      last: { ok: false, type: "notify.test" },
    });
    await queue.close(10);
  });
});

describe("WebhookQueue, pushes racing the end of a pump", () => {
  it.each([0, 1, 2, 3, 4, 5, 6, 8])(
    "a delivery pushed %i microtasks after the last answer is still sent",
    async (hops) => {
      let queue!: WebhookQueue;
      const { send, calls } = fakeSender((d) => {
        if (d.id === "run-1") {
          let chain = Promise.resolve();
          for (let i = 0; i < hops; i++) chain = chain.then(() => undefined);
          void chain.then(() => queue.push(delivery(2)));
        }
        return { status: 204 };
      });
      queue = new WebhookQueue(target(), send, { retryDelaysMs: [], maxPending: 10 });
      queue.push(delivery(1));
      await until(() => queue.stats.delivered === 2, 1_000);
      expect(calls.map((call) => call.id)).toEqual(["run-1", "run-2"]);
      await queue.close(10);
    },
  );

  it("a sender that throws counts as failed and the queue goes on", async () => {
    const logs = captureLogs();
    const { send, calls } = fakeSender((d) => {
      if (d.id === "run-1") throw new Error("defect");
      return { status: 204 };
    });
    const queue = new WebhookQueue(target(), send, { retryDelaysMs: [], maxPending: 10 });
    queue.push(delivery(1));
    queue.push(delivery(2));
    await until(() => queue.stats.delivered === 1);
    expect(queue.stats.failed).toBe(1);
    expect(calls.map((call) => call.id)).toEqual(["run-1", "run-2"]);
    await queue.close(10);
    expect(logs.matching("error", /^sending a notification failed unexpectedly$/)).toHaveLength(1);
  });
});

describe("WebhookQueue over a long life", () => {
  // The queue hands one AbortSignal to every send; a sender that left a listener on it per delivery
  // would leak, and Node warns (MaxListenersExceededWarning) from the eleventh on.
  it.each([
    ["the fetch sender", "fetch"],
    ["the test sender", "fake"],
  ])("%s leaves no abort listener behind on the queue's signal, delivery after delivery", async (_name, kind) => {
    const server = createServer((_request, response) => response.writeHead(204).end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const real = kind === "fetch" ? fetchSender({ timeoutMs: 5_000, userAgent: "test" }) : fakeSender().send;
    let seen: AbortSignal | undefined;
    const send: Sender = (t, d, signal) => {
      seen = signal;
      return real(t, d, signal);
    };
    const queue = new WebhookQueue({ ...target(), url: `http://127.0.0.1:${port}/hook` }, send, {
      retryDelaysMs: [],
      maxPending: 50,
    });
    try {
      for (let n = 1; n <= 20; n++) queue.push(delivery(n));
      await until(() => queue.stats.delivered === 20);
      expect(getEventListeners(seen as AbortSignal, "abort")).toHaveLength(0);
    } finally {
      await queue.close(100);
      server.close();
    }
  });
});

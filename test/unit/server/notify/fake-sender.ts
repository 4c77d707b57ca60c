import type { Delivery, Sender, SendResult, WebhookTarget } from "../../../../src/server/notify/index.js";

export interface SentCall {
  webhook: string;
  id: string;
  type: string;
  body: string;
  at: number;
}

/**
 * A Sender that records every attempt and answers from `answer` (default: 204). An answer may be
 * a promise: the send then stays in flight until it settles, or until the queue aborts it.
 */
export function fakeSender(
  answer: (delivery: Delivery, attempt: number) => SendResult | Promise<SendResult> = () => ({ status: 204 }),
) {
  const calls: SentCall[] = [];
  const attempts = new Map<string, number>();
  const send: Sender = async (target: WebhookTarget, delivery: Delivery, signal: AbortSignal) => {
    const attempt = (attempts.get(delivery.id) ?? 0) + 1;
    attempts.set(delivery.id, attempt);
    calls.push({
      webhook: target.name,
      id: delivery.id,
      type: delivery.type,
      body: delivery.body,
      at: performance.now(),
    });
    // The queue passes one signal to every send of its life: the listener must go with the send,
    // as fetch's does, or each delivery leaves one behind on it.
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<SendResult>((resolve) => {
      onAbort = () => resolve({ error: "stopped: the daemon is shutting down" });
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([Promise.resolve(answer(delivery, attempt)), aborted]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  };
  return { send, calls };
}

export const delivery = (n: number, type = "risk.raised"): Delivery => ({
  id: `run-${n}`,
  type,
  body: JSON.stringify({ n }),
  contentType: "application/json",
});

export const target = (name = "ops"): WebhookTarget => ({
  name,
  url: `http://${name}.example/hook`,
  shownUrl: `http://${name}.example/…`,
  events: new Set(["risk.raised", "risk.cleared"]),
  format: "json",
  holdMs: 0,
});

/** Resolves when `check` holds, polling each 5 ms; fails the test after `ms`. */
export async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

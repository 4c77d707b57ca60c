import { layerLogger } from "../../log.js";
import type { Delivery } from "./payload.js";
import { classify, describeResult, type Sender } from "./send.js";
import type { WebhookTarget } from "./targets.js";

const log = layerLogger("server");

/** Keeps deliveries on disk until they are settled (the outbox); a failure to keep one is logged, not thrown. */
export interface DeliveryKeeper {
  keep(webhook: string, delivery: Delivery): number | undefined;
  release(outboxId: number): void;
}

export interface QueueTuning {
  /** Pauses before the 2nd, 3rd, … attempt; its length + 1 is the number of attempts. */
  readonly retryDelaysMs: readonly number[];
  /** Deliveries waiting behind the one being sent; beyond it the oldest waiting one is dropped. */
  readonly maxPending: number;
}

export interface LastAttempt {
  at: string;
  ok: boolean;
  type: string;
  /** The HTTP status, or why none came. */
  result: string;
}

export interface WebhookCounts {
  delivered: number;
  /** Given up on: a final answer (4xx), or every attempt failed. */
  failed: number;
  /** Pushed out of a full queue, or still waiting when the daemon stopped. */
  dropped: number;
  /** Attempts after the first. */
  retried: number;
  /** Waiting or being sent now. */
  pending: number;
  last: LastAttempt | null;
}

/**
 * One webhook's deliveries, sent one at a time in the order of the events, so a receiver never
 * sees a risk cleared before it was raised. A delivery that fails with something worth retrying
 * waits out its pause and is tried again before anything behind it; a slow receiver therefore
 * holds up only its own queue, never the bridge or another webhook.
 */
export class WebhookQueue {
  private readonly waiting: Delivery[] = [];
  private current: Delivery | undefined;
  private pumping: Promise<void> | undefined;
  private running = false;
  private readonly abort = new AbortController();
  private closing = false;
  private pause: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private readonly counts = { delivered: 0, failed: 0, dropped: 0, retried: 0 };
  private last: LastAttempt | null = null;

  constructor(
    readonly target: WebhookTarget,
    private readonly send: Sender,
    private readonly tuning: QueueTuning,
    private readonly keeper?: DeliveryKeeper,
  ) {}

  get stats(): WebhookCounts {
    return {
      ...this.counts,
      pending: this.waiting.length + (this.current === undefined ? 0 : 1),
      last: this.last,
    };
  }

  push(delivery: Delivery): void {
    if (this.closing) return;
    if (this.waiting.length >= this.tuning.maxPending) {
      const dropped = this.waiting.shift();
      this.settle(dropped);
      this.counts.dropped++;
      log.warn("webhook queue full: the oldest waiting notification was dropped", {
        webhook: this.target.name,
        dropped: dropped?.id,
        maxPending: this.tuning.maxPending,
      });
    }
    const outboxId = delivery.outboxId ?? this.keeper?.keep(this.target.name, delivery);
    this.waiting.push(outboxId === undefined ? delivery : { ...delivery, outboxId });
    // `running` is cleared in the same synchronous step that finds the queue empty, so a delivery
    // pushed right after (from another microtask) always starts a new pump.
    if (!this.running) {
      this.running = true;
      this.pumping = this.pump();
    }
  }

  /** Sends one delivery once, outside the queue: `notify test`. */
  async sendOnce(delivery: Delivery): Promise<{ ok: boolean; result: string }> {
    const result = await this.send(this.target, delivery, this.abort.signal);
    const ok = classify(result) === "delivered";
    this.note(delivery, ok, describeResult(result));
    return { ok, result: describeResult(result) };
  }

  /**
   * Stops taking deliveries; whatever waits gets one last attempt (a pause being waited out ends
   * now) until `drainMs` has passed, then sends in flight are cut and what is left is dropped.
   */
  async close(drainMs: number): Promise<void> {
    this.closing = true;
    this.pause?.wake();
    const deadline = setTimeout(() => this.abort.abort(), drainMs);
    try {
      await this.pumping;
    } finally {
      clearTimeout(deadline);
    }
    if (this.waiting.length > 0) {
      const kept = this.waiting.filter((delivery) => delivery.outboxId !== undefined).length;
      this.counts.dropped += this.waiting.length - kept;
      log.warn("notifications not delivered before shutdown", {
        webhook: this.target.name,
        keptForNextStart: kept,
        dropped: this.waiting.length - kept,
      });
      this.waiting.length = 0;
    }
  }

  private async pump(): Promise<void> {
    for (;;) {
      const delivery = this.waiting.shift();
      if (delivery === undefined || this.abort.signal.aborted) {
        if (delivery !== undefined) this.waiting.unshift(delivery);
        this.running = false;
        return;
      }
      this.current = delivery;
      try {
        await this.deliver(delivery);
      } catch (error) {
        // A sender or keeper that throws is a defect; the queue must go on with the next delivery.
        this.counts.failed++;
        this.settle(delivery);
        log.error("sending a notification failed unexpectedly", {
          webhook: this.target.name,
          delivery: delivery.id,
          error: error instanceof Error ? error.message : String(error),
        });
      } finally {
        this.current = undefined;
      }
    }
  }

  private async deliver(delivery: Delivery): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.send(this.target, delivery, this.abort.signal);
      const verdict = classify(result);
      const described = describeResult(result);
      this.note(delivery, verdict === "delivered", described);
      if (verdict === "delivered") {
        this.counts.delivered++;
        this.settle(delivery);
        return;
      }
      // Not taken while the daemon stops: an outbox-kept delivery is sent again at the next start.
      if (verdict === "retry" && this.closing && delivery.outboxId !== undefined) return;
      const pauseMs = this.tuning.retryDelaysMs[attempt];
      if (verdict === "final" || pauseMs === undefined || this.closing) {
        this.counts.failed++;
        this.settle(delivery);
        log.error("a notification could not be delivered", {
          webhook: this.target.name,
          url: this.target.shownUrl,
          event: delivery.type,
          delivery: delivery.id,
          attempts: attempt + 1,
          result: described,
        });
        return;
      }
      const retryAfterMs = "retryAfterMs" in result ? result.retryAfterMs : undefined;
      const waitMs = Math.max(pauseMs, retryAfterMs ?? 0);
      log.warn("notification not delivered; trying again", {
        webhook: this.target.name,
        event: delivery.type,
        attempt: attempt + 1,
        result: described,
        retryInMs: waitMs,
      });
      this.counts.retried++;
      await this.wait(waitMs);
    }
  }

  /** The delivery is done with (delivered, given up or dropped): out of the outbox. */
  private settle(delivery: Delivery | undefined): void {
    if (delivery?.outboxId !== undefined) this.keeper?.release(delivery.outboxId);
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.pause = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.pause = { timer, wake };
    });
  }

  private note(delivery: Delivery, ok: boolean, result: string): void {
    this.last = { at: new Date().toISOString(), ok, type: delivery.type, result };
  }
}

import { hostname } from "node:os";
import type { Subscription } from "rxjs";
import type { Bridge, BridgeEvent } from "../../bridge/api.js";
import { layerLogger } from "../../log.js";
import { UnknownWebhookError } from "./errors.js";
import { Outbox } from "./outbox.js";
import { type NotifiableEvent, renderDelivery, TEST_EVENT_TYPE } from "./payload.js";
import { RiskHold } from "./risk-hold.js";
import { fetchSender, type Sender } from "./send.js";
import type { WebhookTarget } from "./targets.js";
import { type DeliveryKeeper, type QueueTuning, type WebhookCounts, WebhookQueue } from "./webhook-queue.js";

const log = layerLogger("server");

/** An outbox that cannot be opened leaves notifications in memory only; the daemon still starts. */
function openOutbox(file: string): Outbox | undefined {
  try {
    return Outbox.open(file);
  } catch (error) {
    log.error("notifications are kept in memory only: the outbox cannot be opened", {
      file,
      error: (error as Error).message,
    });
    return undefined;
  }
}

/** The outbox as the queues use it: a failed write is logged, and the delivery goes on in memory. */
function keeperOf(outbox: Outbox): DeliveryKeeper {
  return {
    keep(webhook, delivery) {
      try {
        return outbox.add(webhook, delivery);
      } catch (error) {
        log.error("a notification could not be kept in the outbox; it is sent from memory only", {
          webhook,
          error: (error as Error).message,
        });
        return undefined;
      }
    },
    release(outboxId) {
      try {
        outbox.remove(outboxId);
      } catch (error) {
        log.error("a settled notification could not be removed from the outbox; it may be sent again", {
          error: (error as Error).message,
        });
      }
    },
  };
}

/** About 8 minutes of a receiver being down before a notification is given up. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1_000, 5_000, 15_000, 60_000, 120_000, 300_000];
export const DEFAULT_MAX_PENDING = 200;
export const DEFAULT_SEND_TIMEOUT_MS = 5_000;
/** How long a stopping daemon gives its webhooks to take what is still waiting. */
export const DEFAULT_DRAIN_MS = 3_000;

export interface NotifierOptions {
  /** Where deliveries wait on disk until settled, so a restart does not lose them; none: memory only. */
  outboxFile?: string;
  version?: string;
  host?: string;
  sender?: Sender;
  retryDelaysMs?: readonly number[];
  maxPending?: number;
  timeoutMs?: number;
}

export interface WebhookView extends WebhookCounts {
  /** Risks raised and cleared again within the webhook's hold, so never sent. */
  suppressed: number;
  /** How long a risk.raised waits before it is sent (0: at once). */
  holdMs: number;
  name: string;
  /** Scheme and host only: the path of a chat webhook is its secret. */
  url: string;
  events: string[];
  format: "json" | "text";
  signed: boolean;
}

export interface WebhookTestResult {
  name: string;
  url: string;
  ok: boolean;
  /** `HTTP 204`, `ECONNREFUSED: …`, `timed out after 5000 ms`. */
  result: string;
  ms: number;
}

type EventSource = Pick<Bridge, "events$" | "recentEvents">;

/**
 * Sends the bridge's events to the configured webhooks. It starts with the events this run has
 * already published (a risk found while the daemon started is told too), then follows the stream;
 * each webhook has its own ordered queue with retries, so a dead receiver delays nothing else.
 */
export class Notifier {
  private readonly queues: WebhookQueue[];
  private readonly holds = new Map<WebhookQueue, RiskHold>();
  private readonly outbox: Outbox | undefined;
  private subscription: Subscription | undefined;
  private readonly source: { host: string; runId: string; version: string };
  private closed = false;

  constructor(
    private readonly bridge: EventSource,
    targets: readonly WebhookTarget[],
    options: NotifierOptions = {},
  ) {
    const version = options.version ?? "0.1.0";
    const sender =
      options.sender ??
      fetchSender({ timeoutMs: options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS, userAgent: `keybridge/${version}` });
    const tuning: QueueTuning = {
      retryDelaysMs: options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
      maxPending: options.maxPending ?? DEFAULT_MAX_PENDING,
    };
    this.outbox = targets.length > 0 && options.outboxFile !== undefined ? openOutbox(options.outboxFile) : undefined;
    const keeper = this.outbox === undefined ? undefined : keeperOf(this.outbox);
    this.queues = targets.map((target) => new WebhookQueue(target, sender, tuning, keeper));
    for (const queue of this.queues) {
      this.holds.set(queue, new RiskHold(queue.target.holdMs, (delivery) => queue.push(delivery)));
    }
    this.source = { host: options.host ?? hostname(), runId: bridge.recentEvents({ limit: 1 }).runId, version };
  }

  get size(): number {
    return this.queues.length;
  }

  start(): void {
    if (this.queues.length === 0 || this.subscription !== undefined || this.closed) return;
    // History and subscription in one synchronous step: the bus publishes synchronously, so no
    // event can fall between them, and the sequence number skips any seen twice.
    this.resumeFromOutbox();
    const history = this.bridge.recentEvents();
    let lastSeq = 0;
    const take = (event: BridgeEvent) => {
      const seq = event.seq ?? 0;
      if (seq <= lastSeq) return;
      lastSeq = seq;
      this.dispatch(event);
    };
    for (const event of history.events) take(event);
    this.subscription = this.bridge.events$.subscribe({ next: take });
  }

  webhooks(): WebhookView[] {
    return this.queues.map((queue) => {
      const { target, stats } = queue;
      const hold = this.holds.get(queue);
      return {
        name: target.name,
        url: target.shownUrl,
        events: [...target.events],
        format: target.format,
        signed: target.secret !== undefined,
        holdMs: target.holdMs,
        ...stats,
        pending: stats.pending + (hold?.size ?? 0),
        suppressed: hold?.suppressed ?? 0,
      };
    });
  }

  /** One test delivery to each webhook (or the one named), sent now and once; the answers say what came back. */
  async test(name?: string): Promise<WebhookTestResult[]> {
    const chosen = name === undefined ? this.queues : this.queues.filter((queue) => queue.target.name === name);
    if (name !== undefined && chosen.length === 0) {
      throw new UnknownWebhookError(
        name,
        this.queues.map((queue) => queue.target.name),
      );
    }
    const event: NotifiableEvent = {
      type: TEST_EVENT_TYPE,
      seq: 0,
      at: new Date().toISOString(),
      message: `a test notification: this receiver gets keybridge's events from ${this.source.host}`,
    };
    return Promise.all(
      chosen.map(async (queue) => {
        const started = performance.now();
        const delivery = renderDelivery(event, queue.target, this.source, `${this.source.runId}-test`);
        const { ok, result } = await queue.sendOnce(delivery);
        const ms = Math.round((performance.now() - started) * 10) / 10;
        return { name: queue.target.name, url: queue.target.shownUrl, ok, result, ms };
      }),
    );
  }

  async close(drainMs = DEFAULT_DRAIN_MS): Promise<void> {
    this.closed = true;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    for (const hold of this.holds.values()) hold.flush();
    await Promise.all(this.queues.map((queue) => queue.close(drainMs)));
    this.outbox?.close();
  }

  /** What an earlier run left undelivered goes first, with its own delivery id. */
  private resumeFromOutbox(): void {
    if (this.outbox === undefined) return;
    let stored: ReturnType<Outbox["pending"]>;
    try {
      stored = this.outbox.pending();
    } catch (error) {
      log.error("the notification outbox cannot be read; earlier undelivered notifications are not resent", {
        error: (error as Error).message,
      });
      return;
    }
    for (const { outboxId, webhook, delivery } of stored) {
      const queue = this.queues.find((candidate) => candidate.target.name === webhook);
      if (queue === undefined) {
        log.warn("an undelivered notification was for a webhook no longer configured; dropped", {
          webhook,
          event: delivery.type,
        });
        keeperOf(this.outbox).release(outboxId);
        continue;
      }
      queue.push({ ...delivery, outboxId });
    }
    if (stored.length > 0)
      log.info("resending notifications left undelivered by the last run", { count: stored.length });
  }

  private dispatch(event: BridgeEvent): void {
    for (const queue of this.queues) {
      const hold = this.holds.get(queue);
      // Seen even by a webhook that does not take risk.cleared: it still cancels a held raise.
      if (hold?.cancelsHeldRaise(event)) continue;
      if (!queue.target.events.has(event.type)) continue;
      const delivery = renderDelivery(event, queue.target, this.source);
      if (hold?.holdRaise(event, delivery)) continue;
      queue.push(delivery);
    }
  }
}

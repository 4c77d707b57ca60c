import { randomBytes } from "node:crypto";
import { type Observable, Subject } from "rxjs";
import type { BridgeEvent, BridgeEventType, EventHistoryView } from "./api.js";

/** Enough for a dashboard or `keybridge events` to catch up after a restart of theirs, bounded in memory. */
export const DEFAULT_EVENT_HISTORY = 1000;

/**
 * The bridge's one event stream; every service publishes through it. Each event gets the next
 * sequence number of this run, and the last `historySize` events are kept so that a reader who
 * was away (an SSE client reconnecting, `keybridge events`) can ask what it missed.
 */
export class EventBus {
  private readonly subject = new Subject<BridgeEvent>();
  readonly events$: Observable<BridgeEvent> = this.subject.asObservable();
  /** Tells a reader holding a sequence number from an earlier run that it means nothing now. */
  readonly runId = randomBytes(4).toString("hex");
  private readonly ring: (BridgeEvent | undefined)[];
  private lastSeq = 0;

  constructor(private readonly historySize = DEFAULT_EVENT_HISTORY) {
    if (!Number.isInteger(historySize) || historySize < 1) {
      throw new RangeError(`event history size must be a positive integer, got ${historySize}`);
    }
    this.ring = new Array<BridgeEvent | undefined>(historySize);
  }

  emit(type: BridgeEventType, message: string, extra: Omit<BridgeEvent, "type" | "at" | "message" | "seq"> = {}): void {
    if (this.subject.closed) return;
    const seq = ++this.lastSeq;
    const event: BridgeEvent = { type, seq, at: new Date().toISOString(), message, ...extra };
    this.ring[seq % this.historySize] = event;
    this.subject.next(event);
  }

  /**
   * The kept events after sequence number `after` (0: all kept), oldest first, at most `limit`
   * of the newest. `truncated` says that events after `after` are no longer kept (or were cut by
   * `limit`): the reader missed some and should re-read state (status, risks) rather than trust
   * that it has seen every change.
   */
  history(options: { after?: number; limit?: number } = {}): EventHistoryView {
    const after = Math.max(0, Math.min(options.after ?? 0, this.lastSeq));
    const oldestKept = Math.max(1, this.lastSeq - this.historySize + 1);
    const first = Math.max(after + 1, oldestKept);
    const limit = options.limit ?? this.historySize;
    const start = Math.max(first, this.lastSeq - limit + 1);
    const events: BridgeEvent[] = [];
    for (let seq = start; seq <= this.lastSeq; seq++) {
      const event = this.ring[seq % this.historySize];
      if (event !== undefined) events.push(event);
    }
    return { runId: this.runId, lastSeq: this.lastSeq, truncated: start > after + 1, events };
  }

  complete(): void {
    this.subject.complete();
  }
}

import type { BridgeEvent } from "../../bridge/api.js";
import type { Delivery } from "./payload.js";

/**
 * Holds a webhook's `risk.raised` deliveries for `holdMs` before they are queued: when the same
 * risk (kind and key) clears within that time — a cable jiggled, a key replugged at once — neither
 * the raise nor the clearing is sent. A risk still open when the hold ends is sent as usual, so
 * the hold delays a warning by at most `holdMs` and never loses one.
 */
export class RiskHold {
  private readonly held = new Map<string, { delivery: Delivery; timer: NodeJS.Timeout }>();
  private suppressedCount = 0;

  constructor(
    private readonly holdMs: number,
    private readonly release: (delivery: Delivery) => void,
  ) {}

  /** Deliveries held now. */
  get size(): number {
    return this.held.size;
  }

  /** Raise-and-clear pairs that were never sent. */
  get suppressed(): number {
    return this.suppressedCount;
  }

  /** A raise to hold: true when held (the caller must not queue it). */
  holdRaise(event: BridgeEvent, delivery: Delivery): boolean {
    if (this.holdMs <= 0 || event.type !== "risk.raised" || event.risk === undefined) return false;
    const key = riskIdentity(event);
    const earlier = this.held.get(key);
    if (earlier !== undefined) {
      // Raised again while its first raise is still held: keep the first, the receiver needs one.
      return true;
    }
    const timer = setTimeout(() => {
      this.held.delete(key);
      this.release(delivery);
    }, this.holdMs);
    this.held.set(key, { delivery, timer });
    return true;
  }

  /** A clearing: true when it cancelled a held raise (then neither is sent). */
  cancelsHeldRaise(event: BridgeEvent): boolean {
    if (event.type !== "risk.cleared" || event.risk === undefined) return false;
    const key = riskIdentity(event);
    const held = this.held.get(key);
    if (held === undefined) return false;
    clearTimeout(held.timer);
    this.held.delete(key);
    this.suppressedCount++;
    return true;
  }

  /** Queues every held raise now (the daemon is stopping: the risks are still open). */
  flush(): void {
    for (const { delivery, timer } of this.held.values()) {
      clearTimeout(timer);
      this.release(delivery);
    }
    this.held.clear();
  }
}

/** Each source keeps one risk per kind and key, so source, kind and key name it from raise to clearing. */
function riskIdentity(event: BridgeEvent): string {
  return `${event.risk?.source ?? ""}\u0000${event.risk?.kind ?? ""}\u0000${event.risk?.serial ?? event.serial ?? ""}`;
}

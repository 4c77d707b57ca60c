import type { Subscription } from "rxjs";
import type { BorrowSource, BorrowStateView, Bridge } from "../bridge/api.js";

/**
 * The serialised borrow list, kept until something changes. Any bridge event invalidates it, and so
 * does age: a borrow's state (`expired`) follows the clock, not only events. A generation number
 * keeps a list fetched before a change from being stored after it.
 */
export class BorrowListCache {
  private readonly entries = new Map<string, { body: Buffer; at: number }>();
  private generation = 0;
  private readonly subscription: Subscription;

  constructor(
    private readonly bridge: Bridge,
    private readonly maxAgeMs = 1_000,
  ) {
    this.subscription = bridge.events$.subscribe({ next: () => this.invalidate(), error: () => this.invalidate() });
  }

  /** The list as UTF-8 bytes, encoded once per change rather than once per request. */
  async get(filter: { serial?: string; state?: BorrowStateView; source?: BorrowSource }): Promise<Buffer> {
    const key = `${filter.serial ?? ""}\u0000${filter.state ?? ""}\u0000${filter.source ?? ""}`;
    const cached = this.entries.get(key);
    const now = Date.now();
    if (cached !== undefined && now - cached.at < this.maxAgeMs) return cached.body;
    const generation = this.generation;
    const body = Buffer.from(JSON.stringify(await this.bridge.borrowList(filter)), "utf8");
    if (generation === this.generation) {
      if (this.entries.size > 64) this.entries.clear();
      this.entries.set(key, { body, at: now });
    }
    return body;
  }

  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  close(): void {
    this.subscription.unsubscribe();
    this.entries.clear();
  }
}

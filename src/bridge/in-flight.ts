import { BridgeClosedError } from "./errors.js";
import { KeyOrder } from "./key-order.js";

/**
 * Counts operations in progress so `close()` can stop accepting new ones and wait for the
 * rest, and remembers the opIds of borrows between key and ledger so recovery never rolls back
 * a borrow that is about to be acknowledged, and orders per key the operations that take seats
 * against those that change the licenses (see KeyOrder).
 */
export class InFlight {
  private count = 0;
  private closing = false;
  private waiters: (() => void)[] = [];
  readonly borrowOpIds = new Set<string>();
  /** `serial/id` of borrows with a return, settle or rebind running. */
  readonly busyBorrows = new Set<string>();
  /** Per key: seat operations (borrow, settle, rebind) against license updates. */
  readonly keyOrder = new KeyOrder();

  get size(): number {
    return this.count;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.closing) throw new BridgeClosedError();
    this.count++;
    try {
      return await work();
    } finally {
      this.count--;
      if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
    }
  }

  /** Refuses new operations and resolves once the running ones have finished. */
  drain(): Promise<void> {
    this.closing = true;
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

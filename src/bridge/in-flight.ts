import { BridgeClosedError } from "./errors.js";

/**
 * Counts the operations in progress, so that `close()` can stop accepting new ones and wait for
 * the rest, and preflight can say that some are running.
 */
export class InFlight {
  private count = 0;
  private closing = false;
  private waiters: (() => void)[] = [];

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

/** Gives back a place taken in a key's order; calling it more than once does nothing. */
export type Release = () => void;

interface Waiter {
  readonly exclusive: boolean;
  readonly wake: () => void;
}

interface Lane {
  shared: number;
  exclusive: boolean;
  readonly queue: Waiter[];
}

/**
 * Orders, per key, the operations that take or free seats (borrow, settle, rebind: any number at
 * once) against those that change the key's licenses (a license update: alone). A license update
 * turns every active borrow on the key into a dummy (K6), so it must start only once every seat
 * operation sent before it has been answered and written to the ledger, and no seat operation may
 * reach the key while it runs. Places are given first come, first served: a license update waits
 * for the seat operations ahead of it, and seat operations asked for after it wait for it, so a
 * stream of borrows cannot keep an update waiting for ever.
 */
export class KeyOrder {
  private readonly lanes = new Map<string, Lane>();

  /** A place among the seat operations on `serial`. */
  shared(serial: string): Promise<Release> {
    return this.take(serial, false);
  }

  /** The key `serial` alone: no seat operation runs until the release. */
  exclusive(serial: string): Promise<Release> {
    return this.take(serial, true);
  }

  async withShared<T>(serial: string, work: () => Promise<T>): Promise<T> {
    const release = await this.shared(serial);
    try {
      return await work();
    } finally {
      release();
    }
  }

  async withExclusive<T>(serial: string, work: () => Promise<T>): Promise<T> {
    const release = await this.exclusive(serial);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Seat operations holding a place on `serial` now (for tests and diagnostics). */
  sharedHolders(serial: string): number {
    return this.lanes.get(serial)?.shared ?? 0;
  }

  private take(serial: string, exclusive: boolean): Promise<Release> {
    let lane = this.lanes.get(serial);
    if (lane === undefined) {
      lane = { shared: 0, exclusive: false, queue: [] };
      this.lanes.set(serial, lane);
    }
    const current = lane;
    const free = current.queue.length === 0 && !current.exclusive && (!exclusive || current.shared === 0);
    if (free) {
      this.enter(current, exclusive);
      return Promise.resolve(this.releaser(serial, current, exclusive));
    }
    return new Promise((resolve) => {
      current.queue.push({
        exclusive,
        wake: () => resolve(this.releaser(serial, current, exclusive)),
      });
    });
  }

  private enter(lane: Lane, exclusive: boolean): void {
    if (exclusive) lane.exclusive = true;
    else lane.shared++;
  }

  private releaser(serial: string, lane: Lane, exclusive: boolean): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (exclusive) lane.exclusive = false;
      else lane.shared--;
      this.admit(lane);
      if (lane.shared === 0 && !lane.exclusive && lane.queue.length === 0) this.lanes.delete(serial);
    };
  }

  /** Lets in the waiters at the head of the queue that may run now. */
  private admit(lane: Lane): void {
    while (lane.queue.length > 0 && !lane.exclusive) {
      const next = lane.queue[0] as Waiter;
      if (next.exclusive && lane.shared > 0) return;
      lane.queue.shift();
      this.enter(lane, next.exclusive);
      next.wake();
    }
  }
}

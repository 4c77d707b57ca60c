import { performance } from "node:perf_hooks";
import { type Observable, Subject } from "rxjs";
import { layerLogger } from "../log.js";
import { SerialQueue } from "../serial-queue.js";
import { MonitorClosedError } from "./errors.js";
import type { LastSeenStore } from "./last-seen-store.js";
import { PollLoop } from "./poll-loop.js";
import { backgroundTimers, type Timers } from "./timers.js";

const log = layerLogger("host");

export interface ClockJumpEvent {
  type: "clock.jump";
  at: Date;
  direction: "forward" | "backward";
  /** How far the wall clock moved beyond (or short of) the elapsed monotonic time. */
  jumpMs: number;
  /** True when found at start: the wall clock is behind the last time seen before the restart. */
  acrossRestart: boolean;
}

/** Both clocks in milliseconds; the monotonic one has an arbitrary origin and never steps. */
export interface ClockSources {
  wallNow(): number;
  monotonicNow(): number;
}

export const systemClocks: ClockSources = {
  wallNow: () => Date.now(),
  monotonicNow: () => performance.now(),
};

export interface ClockMonitorOptions {
  /** Time between checks. Default 10 s. */
  intervalMs?: number;
  /** Smallest reported jump. Default 15 minutes (what license servers conventionally call a time jump). */
  thresholdMs?: number;
  clocks?: ClockSources;
  timers?: Timers;
}

export const DEFAULT_CLOCK_JUMP_THRESHOLD_MS = 15 * 60_000;

/**
 * Detects wall-clock jumps: at every tick it compares wall-clock progress with monotonic
 * progress, and at start it compares the wall clock with the persisted "last seen" time, which
 * only ever moves forward. It reports jumps; deciding when a jump stops mattering is the risk
 * engine's job.
 */
export class ClockMonitor {
  readonly #store: LastSeenStore;
  readonly #thresholdMs: number;
  readonly #clocks: ClockSources;
  readonly #jumps = new Subject<ClockJumpEvent>();
  readonly #errors = new Subject<Error>();
  #previous: { wall: number; monotonic: number } | undefined;
  #lastSeenMs: number | undefined;
  readonly #work = new SerialQueue();
  readonly #polls: PollLoop;
  #closed = false;

  readonly jumps$: Observable<ClockJumpEvent> = this.#jumps.asObservable();
  /** Failures of background ticks (saving the last-seen time). */
  readonly errors$: Observable<Error> = this.#errors.asObservable();

  constructor(store: LastSeenStore, options: ClockMonitorOptions = {}) {
    this.#store = store;
    this.#thresholdMs = options.thresholdMs ?? DEFAULT_CLOCK_JUMP_THRESHOLD_MS;
    this.#clocks = options.clocks ?? systemClocks;
    this.#polls = new PollLoop({
      timers: options.timers ?? backgroundTimers,
      intervalMs: options.intervalMs ?? 10_000,
      poll: () => this.tick(),
      onError: (failure) => {
        log.warn("clock check failed", { error: failure.message });
        if (!this.#closed) this.#errors.next(failure);
      },
    });
  }

  /** The latest wall time seen, persisted; never decreases. */
  get lastSeenMs(): number | undefined {
    return this.#lastSeenMs;
  }

  /**
   * Loads the last-seen time, reports a backward jump across the restart if there was one,
   * and starts ticking. Rejects when the store cannot be read (a corrupt file is not ignored).
   */
  start(): Promise<ClockJumpEvent | undefined> {
    return this.#work.run(async () => {
      if (this.#previous !== undefined) return undefined;
      const stored = await this.#store.load();
      if (this.#closed) throw new MonitorClosedError("clock monitor");
      const wall = this.#clocks.wallNow();
      const monotonic = this.#clocks.monotonicNow();
      this.#lastSeenMs = stored;
      await this.#advanceLastSeen(wall);
      this.#previous = { wall, monotonic };
      let event: ClockJumpEvent | undefined;
      if (stored !== undefined && stored - wall > this.#thresholdMs) {
        event = this.#report("backward", stored - wall, wall, true);
      }
      this.#polls.start();
      return event;
    });
  }

  /** Checks now; resolves the jump found, if any. */
  tick(): Promise<ClockJumpEvent | undefined> {
    return this.#work.run(async () => {
      const previous = this.#previous;
      if (previous === undefined || this.#closed) return undefined;
      const wall = this.#clocks.wallNow();
      const monotonic = this.#clocks.monotonicNow();
      this.#previous = { wall, monotonic };
      const skew = wall - previous.wall - (monotonic - previous.monotonic);
      let event: ClockJumpEvent | undefined;
      if (Math.abs(skew) > this.#thresholdMs) {
        event = this.#report(skew > 0 ? "forward" : "backward", Math.abs(skew), wall, false);
      }
      await this.#advanceLastSeen(wall);
      return event;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#polls.stop();
    this.#jumps.complete();
    this.#errors.complete();
  }

  #report(direction: ClockJumpEvent["direction"], jumpMs: number, wall: number, acrossRestart: boolean) {
    const event: ClockJumpEvent = { type: "clock.jump", at: new Date(wall), direction, jumpMs, acrossRestart };
    log.warn("wall clock jumped", { direction, jumpMs, acrossRestart });
    this.#jumps.next(event);
    return event;
  }

  async #advanceLastSeen(wall: number): Promise<void> {
    if (this.#lastSeenMs !== undefined && wall <= this.#lastSeenMs) return;
    this.#lastSeenMs = wall;
    await this.#store.save(wall);
  }
}

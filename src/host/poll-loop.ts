import type { Timers } from "./timers.js";

export interface PollLoopOptions {
  timers: Timers;
  /** Pause between the end of one poll and the start of the next. */
  intervalMs: number;
  poll: () => Promise<unknown>;
  /** A failed background poll; polling goes on. */
  onError: (error: Error) => void;
}

/**
 * Background polling whose polls never overlap: the next one is scheduled only when the
 * previous one has settled. Stopping clears the pending timer, so nothing keeps running.
 */
export class PollLoop {
  readonly #options: PollLoopOptions;
  #timer: unknown;
  #started = false;
  #stopped = false;

  constructor(options: PollLoopOptions) {
    this.#options = options;
  }

  /** Starts polling (the first poll after one interval); idempotent. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const { timers, intervalMs, poll, onError } = this.#options;
    this.#timer = timers.setTimeout(() => {
      this.#timer = undefined;
      poll()
        .catch((error: unknown) => onError(error instanceof Error ? error : new Error(String(error))))
        .finally(() => this.#schedule());
    }, intervalMs);
  }
}

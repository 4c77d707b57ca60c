import { HostStateCorruptError } from "./errors.js";
import { readJsonState, writeJsonState } from "./state-file.js";

/** Where the clock monitor keeps the latest wall time it has seen, across restarts. */
export interface LastSeenStore {
  load(): Promise<number | undefined>;
  save(ms: number): Promise<void>;
}

/** The file name the daemon uses inside its data directory. */
export const CLOCK_STATE_FILE = "clock-last-seen.json";

/** A JSON file `{"lastSeenMs": n}`, replaced atomically with mode 0600. */
export class FileLastSeenStore implements LastSeenStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async load(): Promise<number | undefined> {
    const stored = await readJsonState(this.path);
    if (stored === undefined) return undefined;
    const lastSeenMs = (stored as { lastSeenMs?: unknown } | null)?.lastSeenMs;
    // A file that does not parse must not silently reset the last-seen time: that is how a clock
    // rollback would be hidden.
    if (typeof lastSeenMs !== "number" || !Number.isFinite(lastSeenMs) || lastSeenMs < 0) {
      throw new HostStateCorruptError(this.path, 'expected {"lastSeenMs": <non-negative number>}');
    }
    return lastSeenMs;
  }

  async save(ms: number): Promise<void> {
    await writeJsonState(this.path, { lastSeenMs: ms, lastSeen: new Date(ms).toISOString() });
  }
}

export class MemoryLastSeenStore implements LastSeenStore {
  #value: number | undefined;

  constructor(initial?: number) {
    this.#value = initial;
  }

  async load(): Promise<number | undefined> {
    return this.#value;
  }

  async save(ms: number): Promise<void> {
    this.#value = ms;
  }
}

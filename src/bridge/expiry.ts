import { layerLogger } from "../log.js";
import { borrowKey } from "../vocabulary/index.js";
import type { BorrowIndex } from "./borrow-index.js";
import type { BorrowLocks } from "./borrow-locks.js";
import type { BorrowService } from "./borrow-service.js";
import type { InFlight } from "./in-flight.js";
import type { DummyRecorder } from "./key-dummies.js";
import type { KeyManager } from "./key-manager.js";

const log = layerLogger("bridge");

/** What the expiry sweep reads and whom it asks to settle. */
export interface ExpiryInputs {
  readonly keys: Pick<KeyManager, "call" | "servingSessions">;
  readonly index: Pick<BorrowIndex, "get" | "rows">;
  readonly operations: Pick<InFlight, "isClosing" | "run">;
  readonly locks: Pick<BorrowLocks, "tryLock" | "unlock">;
  readonly dummies: Pick<DummyRecorder, "record">;
  readonly borrows: Pick<BorrowService, "settle">;
  /** The current host binding, lower-case hex. */
  binding(): string;
  /** How often the sweep runs. */
  readonly intervalMs: number;
}

/**
 * Settles every active borrow whose expiresAt has passed in KEY time, long before the key's
 * settle window (K4, 24 h by default) would turn it into a dummy. A borrow whose binding no
 * longer matches this host is left alone: settling it would create the dummy (the guard raises
 * a risk and `migrate` fixes it).
 */
export class ExpiryService {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private closed = false;
  private readonly skipped = new Set<string>();

  constructor(private readonly inputs: ExpiryInputs) {}

  start(): void {
    this.schedule();
  }

  /** One sweep now; resolves how many borrows it settled. Sweeps never overlap. */
  sweep(): Promise<number> {
    this.running ??= this.sweepNow().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    // A failed sweep was already reported to whoever started it (the timer logs it); close only waits.
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sweep()
        .catch((error: unknown) => log.warn("expiry sweep failed", { error: String(error) }))
        .finally(() => this.schedule());
    }, this.inputs.intervalMs);
    this.timer.unref();
  }

  private async sweepNow(): Promise<number> {
    let settled = 0;
    for (const session of this.inputs.keys.servingSessions()) {
      if (this.closed || this.inputs.operations.isClosing) break;
      const due = this.inputs.index.rows().filter((row) => row.serial === session.serial && row.state === "active");
      if (due.length === 0) continue;
      // Re-read the key clock: it may have been set or may drift from ours.
      const time = await this.inputs.keys.call(session, (client) => client.getTime());
      session.setKeyTime(time.keyTimeMs);
      const keyNow = session.keyNow();
      // Past its settle window the key has made the borrow a dummy by itself (K4): the daemon was
      // down, the clock jumped, or the borrow is bound elsewhere. Its listing says which, at once.
      if (due.some((row) => row.expiresAt + session.settleWindowMs <= keyNow)) {
        const records = await this.inputs.keys.call(session, (client) => client.listAllBorrows());
        await this.inputs.dummies.record(session, records, {
          cause: "the key's listing after the settle window passed",
        });
      }
      for (const row of due) {
        if (row.expiresAt > keyNow) continue;
        if (this.inputs.index.get(row.serial, row.id)?.state !== "active") continue;
        if (row.binding !== this.inputs.binding()) {
          const key = borrowKey(row.serial, row.id);
          if (!this.skipped.has(key)) {
            this.skipped.add(key);
            log.warn("an expired borrow is bound to another host identity; not settling it (run keybridge migrate)", {
              serial: row.serial,
              id: row.id,
            });
          }
          continue;
        }
        if (!this.inputs.locks.tryLock(row.serial, row.id)) continue;
        try {
          await this.inputs.operations.run(() => this.inputs.borrows.settle(session, row, "settle-expired"));
          this.skipped.delete(borrowKey(row.serial, row.id));
          settled++;
        } catch (error) {
          log.warn("settling an expired borrow failed; retrying at the next sweep", {
            serial: row.serial,
            id: row.id,
            error: String(error),
          });
        } finally {
          this.inputs.locks.unlock(row.serial, row.id);
        }
      }
    }
    return settled;
  }
}

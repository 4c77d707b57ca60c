import { Subject } from "rxjs";
import { layerLogger } from "../../log.js";
import { borrowKey } from "../../vocabulary/index.js";
import type { BorrowIndex } from "../borrow-index.js";
import type { Mirror } from "../mirror.js";
import { isMirrored } from "../registry-codec.js";
import type { RegistryHealth } from "./risk-engine.js";

const log = layerLogger("bridge");

export interface RegistryWatchOptions {
  readonly mirror: Pick<Mirror, "isRefused" | "read">;
  readonly index: Pick<BorrowIndex, "rows">;
  /** Time between checks. */
  intervalMs: number;
  /** The mirror may trail the ledger by this much; younger rows are not yet expected in the registry. */
  lagMs: number;
}

/**
 * Reads the OS registry on a timer and says whether it still holds every outstanding borrow the
 * ledger has mirrored: `lost` when entries are missing (driver uninstalled, OS reinstalled, an
 * admin's cleanup), `corrupt` when it cannot be read or an entry disagrees with the ledger.
 * The mirror repairs both; this only makes the loss visible as a risk until it has.
 */
export class RegistryWatch {
  private readonly subject = new Subject<{ health: RegistryHealth; detail?: string }>();
  readonly health$ = this.subject.asObservable();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RegistryHealth> | undefined;
  private closed = false;

  constructor(private readonly options: RegistryWatchOptions) {}

  start(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setInterval(() => {
      void this.check().catch((error: unknown) => log.warn("registry check failed", { error: String(error) }));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Checks now (a check already running is shared) and reports the result. */
  check(): Promise<RegistryHealth> {
    this.running ??= this.checkNow().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.subject.complete();
  }

  private async checkNow(): Promise<RegistryHealth> {
    const { view, entries } = await this.options.mirror.read();
    if (this.closed) return "healthy";
    if (!view.readable) return this.report("corrupt", view.reason);
    const settledBefore = Date.now() - 2 * this.options.lagMs - 500;
    const present = new Map(entries.map((entry) => [borrowKey(entry.borrow.serial, entry.borrow.id), entry.borrow]));
    let expected = 0;
    let missing = 0;
    let differing = 0;
    for (const row of this.options.index.rows()) {
      if (!isMirrored(row) || row.updatedAt > settledBefore) continue;
      // The registry cannot hold it (the mirror reports it in status); not a loss to raise.
      if (this.options.mirror.isRefused(row.serial, row.id)) continue;
      expected++;
      const entry = present.get(borrowKey(row.serial, row.id));
      if (entry === undefined) missing++;
      else if (entry.tag !== row.tag || entry.binding !== row.binding) differing++;
    }
    if (missing > 0) return this.report("lost", `${missing} of ${expected} borrow entries missing`);
    if (differing > 0) return this.report("corrupt", `${differing} borrow entries differ from the ledger`);
    return this.report("healthy");
  }

  private report(health: RegistryHealth, detail?: string): RegistryHealth {
    if (!this.closed) this.subject.next(detail === undefined ? { health } : { health, detail });
    return health;
  }
}

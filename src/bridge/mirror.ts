import { BehaviorSubject, filter, type Observable, type Subscription } from "rxjs";
import { isCodedError } from "../errors.js";
import type { BorrowRow, Ledger } from "../ledger/index.js";
import { layerLogger } from "../log.js";
import type { RegistryView } from "../reconcile/index.js";
import {
  borrowPath,
  entryMatches,
  entryValueLines,
  isMirrored,
  type ParsedEntry,
  parseBorrowEntry,
  type RegistryAdapter,
  RegistryCorruptError,
  RegistryInvalidArgumentError,
  type RegistryOp,
  readBorrows,
  scanBorrowKeys,
  serialPath,
  setOps,
  treeFromRows,
  writeOps,
} from "../registry/index.js";
import { borrowKey } from "../vocabulary/index.js";
import type { BorrowIndex } from "./borrow-index.js";
import { crashPoint } from "./crash-points.js";
import type { EventBus } from "./event-bus.js";
import type { KeyLifecycleEvent } from "./key-manager.js";

const log = layerLogger("bridge");

/**
 * Ops per registry batch when a comparison rewrites what differs (about 20 000 entries). Each
 * batch is atomic; a restore of a whole lost registry goes as several bounded ones rather than
 * one transaction of every entry.
 */
const OPS_PER_REPAIR_BATCH = 140_000;

export interface MirrorOptions {
  /** A changed borrow is written to the registry within this time. */
  lagMs: number;
  /** How often the registry is compared with the ledger; its health is published after each comparison. */
  checkMs: number;
  /**
   * How often a comparison also rewrites what differs. Between repairs a loss stays visible as
   * the registry's health (a risk) — an administrator learns that something removed the entries,
   * and `reconcile --repair` restores them at once.
   */
  repairMs: number;
  /**
   * The ledger was rebuilt, or created in place of a lost one: the registry may hold the only copy
   * of a key's borrow tags until that key's recovery has adopted them, so until a key is recovered
   * its entries the ledger lacks are kept.
   */
  keepUnrecovered: boolean;
  /** The keys' lifecycle: which keys are recovered. */
  keyLifecycle$: Observable<KeyLifecycleEvent>;
}

/** The registry's health as the last comparison found it: `lost` when entries are missing, `corrupt` when it cannot be read or entries differ. */
export type RegistryHealth = "healthy" | "lost" | "corrupt";

export interface RegistryHealthReport {
  readonly health: RegistryHealth;
  readonly detail?: string;
}

/** The registry's borrow entries, as reconcile sees them. */
export interface RegistryRead {
  view: RegistryView;
  entries: ParsedEntry[];
}

/** A borrow the registry refused to store (a value it cannot hold, such as a client name with a NUL). */
export interface RefusedEntry {
  serial: string;
  id: number;
  reason: string;
}

/** The ops of one registry entry (or one key to delete): the unit a refusal is isolated to. */
interface EntryOps {
  key: string;
  ops: RegistryOp[];
}

export interface DriftReport {
  missing: number;
  extra: number;
  changed: number;
  /** The registry could not be read and was rewritten from the ledger. */
  replaced: boolean;
}

/** What one comparison found: the counts, and what would set it right. */
interface Drift {
  readonly report: DriftReport;
  readonly repairs: EntryOps[];
}

/**
 * Keeps the OS registry a copy of the ledger's outstanding borrows, and says how healthy it is.
 * Operations only mark a borrow dirty; one `applyBatch` per flush writes every dirty entry, so a
 * storm of borrows costs one registry write. The ledger is always written first, so the registry
 * is never the only copy of anything and can always be rebuilt from the ledger.
 *
 * One timer compares the registry with the ledger every `checkMs`, by one rule: every outstanding
 * borrow a client holds is in the registry exactly as its ledger row would be written, unless its
 * write is still pending (dirty) or the registry refused it; nothing else is. What the comparison
 * finds is published on `health$` (the risk engine follows it), and every `repairMs` the same
 * comparison also rewrites what differs.
 */
export class Mirror {
  private readonly dirty = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  /** Batches written since start (tests and metrics). */
  writes = 0;
  healthy = true;
  lastError: string | undefined;
  /** Epoch ms when a drift check last finished (repairing what it found); undefined before the first. */
  lastDriftCheckAt: number | undefined;
  private readonly healthSubject = new BehaviorSubject<RegistryHealthReport>({ health: "healthy" });
  /** The registry's health after each comparison, the latest replayed to a new subscriber. */
  readonly health$: Observable<RegistryHealthReport> = this.healthSubject.asObservable();
  /**
   * Entries the registry refused, by borrow key, with its reason. They are not offered again while
   * the borrow is outstanding (its values never change); the ledger keeps them, as it keeps all.
   */
  private readonly refusedEntries = new Map<string, RefusedEntry>();
  /** Keys recovered in this run: their borrows are all in the ledger now. */
  private readonly recovered = new Set<string>();
  private readonly following: Subscription;

  constructor(
    private readonly registry: RegistryAdapter,
    private readonly index: Pick<BorrowIndex, "all" | "get">,
    /** Where repairs are recorded (audit `repair`). */
    private readonly ledger: Pick<Ledger, "audit">,
    private readonly events: Pick<EventBus, "emit">,
    private readonly options: MirrorOptions,
  ) {
    this.following = options.keyLifecycle$
      .pipe(filter((event) => event.phase === "recovered"))
      .subscribe(({ session }) => this.recovered.add(session.serial));
  }

  /** Resolved once the first drift check has ended; reads wait for it (see `start`). */
  private firstCheck: Promise<unknown> = Promise.resolve();

  /**
   * Repairs drift once (the returned promise settles when that is done), then keeps comparing every
   * `checkMs`, also when the first check failed. Reads through the mirror wait for the first
   * check, so a caller that does not wait for it (the daemon) never shows a registry not yet repaired.
   */
  start(): Promise<void> {
    const first = this.checkDrift();
    this.firstCheck = first.then(
      () => this.scheduleCheck(),
      () => this.scheduleCheck(),
    );
    return first.then(() => undefined);
  }

  markDirty(serial: string, id: number): void {
    this.dirty.add(borrowKey(serial, id));
    if (this.closed || this.flushTimer !== undefined) return;
    // Half the lag: leaves the other half for the write itself and a flush already running.
    this.flushTimer = setTimeout(
      () => {
        this.flushTimer = undefined;
        void this.flush().catch((error: unknown) =>
          log.warn("registry flush failed; the entries stay dirty for the next flush or drift check", {
            code: isCodedError(error) ? error.code : undefined,
            error: String(error),
          }),
        );
      },
      Math.max(0, Math.floor(this.options.lagMs / 2)),
    );
    this.flushTimer.unref();
  }

  /** Borrows the registry refused to store; the other entries are copied as usual. */
  refused(): RefusedEntry[] {
    return Array.from(this.refusedEntries.values());
  }

  /** Writes every dirty entry now, in one batch. */
  flush(): Promise<void> {
    return this.serialize(() => this.flushNow());
  }

  /** Compares the registry with the ledger's outstanding borrows and rewrites what differs, now. */
  checkDrift(): Promise<DriftReport> {
    return this.serialize(() => this.compareNow(true));
  }

  /** One comparison by the timer: health published, and what differs rewritten when a repair is due. */
  private check(): Promise<DriftReport> {
    return this.serialize(() => {
      const due = this.lastDriftCheckAt === undefined || Date.now() - this.lastDriftCheckAt >= this.options.repairMs;
      return this.compareNow(due);
    });
  }

  /** What the registry holds now, for reconcile and recovery; waits for the first drift check. */
  async read(): Promise<RegistryRead> {
    await this.firstCheck;
    try {
      const { entries } = await readBorrows(this.registry, (serial, id) => this.index.get(serial, id));
      return { view: { readable: true, borrows: entries.map((entry) => entry.borrow) }, entries };
    } catch (error) {
      return { view: { readable: false, reason: errorMessage(error) }, entries: [] };
    }
  }

  /** Rewrites the whole registry from the ledger (repair). */
  restoreAll(reason: string): Promise<void> {
    return this.serialize(() => this.replaceFromLedger(reason));
  }

  /** Deletes every keybridge entry: the "driver uninstalled" case of virtual mode. */
  wipe(): Promise<void> {
    return this.serialize(() => this.registry.replaceAll({ values: {}, subkeys: {} }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.following.unsubscribe();
    clearTimeout(this.flushTimer);
    clearTimeout(this.checkTimer);
    this.flushTimer = undefined;
    this.checkTimer = undefined;
    await this.flush().catch((error: unknown) => log.error("final mirror flush failed", { error: String(error) }));
    this.healthSubject.complete();
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.running.then(work);
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async flushNow(): Promise<void> {
    if (this.dirty.size === 0) return;
    const keys = Array.from(this.dirty);
    this.dirty.clear();
    const entries: EntryOps[] = [];
    for (const key of keys) {
      const slash = key.lastIndexOf("/");
      const serial = key.slice(0, slash);
      const id = Number(key.slice(slash + 1));
      const row = this.index.get(serial, id);
      if (row !== undefined && isMirrored(row)) {
        if (!this.refusedEntries.has(key)) entries.push({ key, ops: writeOps(row) });
      } else {
        this.refusedEntries.delete(key);
        entries.push({ key, ops: [{ op: "deleteKey", path: borrowPath(serial, id) }] });
      }
    }
    crashPoint("mirror.before-write");
    try {
      await this.applyIsolated(entries);
      this.healthy = true;
      this.lastError = undefined;
    } catch (error) {
      // Nothing is lost: the entries stay dirty and the ledger still has them.
      for (const key of keys) this.dirty.add(key);
      this.healthy = false;
      this.lastError = errorMessage(error);
      log.warn("registry write failed; retrying at the next flush or drift check", { error: this.lastError });
      if (error instanceof RegistryCorruptError) await this.replaceFromLedger("the registry file is corrupt");
      else throw error;
    }
    crashPoint("mirror.after-write");
  }

  /**
   * Applies the entries in one batch. When the registry refuses a value (RegistryInvalidArgumentError:
   * the whole batch is refused, as batches are atomic), the batch is split in halves until the entry
   * that cannot be stored is alone: it is set aside and reported, every other entry is written. A
   * batch of n entries with one bad one costs about 2·log2(n) extra writes, once.
   */
  private async applyIsolated(entries: readonly EntryOps[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.registry.applyBatch(entries.flatMap((entry) => entry.ops));
      this.writes++;
      return;
    } catch (error) {
      if (!(error instanceof RegistryInvalidArgumentError)) throw error;
      if (entries.length === 1) {
        this.refuse((entries[0] as EntryOps).key, error.message);
        return;
      }
    }
    const half = Math.ceil(entries.length / 2);
    await this.applyIsolated(entries.slice(0, half));
    await this.applyIsolated(entries.slice(half));
  }

  private async applyInBatches(entries: readonly EntryOps[]): Promise<void> {
    let batch: EntryOps[] = [];
    let ops = 0;
    for (const entry of entries) {
      batch.push(entry);
      ops += entry.ops.length;
      if (ops < OPS_PER_REPAIR_BATCH) continue;
      await this.applyIsolated(batch);
      batch = [];
      ops = 0;
    }
    await this.applyIsolated(batch);
  }

  private refuse(key: string, reason: string): void {
    const slash = key.lastIndexOf("/");
    const serial = key.slice(0, slash);
    const id = Number(key.slice(slash + 1));
    // A key of its own (an unparsable entry, an empty serial key) is not a borrow; logged, not kept.
    const borrow = this.index.get(serial, id);
    if (borrow === undefined || !isMirrored(borrow)) {
      log.error("the registry refused to change a key; the others were written", { key, reason });
      return;
    }
    if (this.refusedEntries.has(key)) return;
    this.refusedEntries.set(key, { serial, id, reason });
    log.error("the registry cannot store this borrow's entry; it stays in the ledger and every other entry is copied", {
      serial,
      id,
      reason,
    });
  }

  /**
   * Compares, publishes the health found, and with `repair` rewrites what differs. Pending writes
   * go first, so that only what was written and is gone or changed counts against the registry.
   */
  private async compareNow(repair: boolean): Promise<DriftReport> {
    try {
      await this.flushNow();
    } catch (error) {
      // The entries stay dirty; the comparison counts them as pending.
      log.warn("registry flush before the comparison failed", { error: String(error) });
    }
    let drift: Drift;
    try {
      drift = await this.compare();
    } catch (error) {
      const reason = errorMessage(error);
      const unreadable: RegistryHealthReport = { health: "corrupt", detail: reason };
      if (!(error instanceof RegistryCorruptError)) {
        this.report(unreadable);
        this.healthy = false;
        this.lastError = reason;
        throw error;
      }
      if (!repair) {
        this.report(unreadable);
        return { missing: 0, extra: 0, changed: 0, replaced: false };
      }
      await this.afterRepair(unreadable, () => this.replaceFromLedger(`the registry could not be read: ${reason}`));
      this.lastDriftCheckAt = Date.now();
      return { missing: 0, extra: 0, changed: 0, replaced: true };
    }
    const { report } = drift;
    const found = this.healthOf(report);
    if (!repair) {
      this.report(found);
      return report;
    }
    // Health is published once the repair is done, so a loss repaired in the same step raises no risk.
    await this.afterRepair(found, () => this.applyInBatches(drift.repairs));
    this.healthy = true;
    this.lastError = undefined;
    this.lastDriftCheckAt = Date.now();
    if (report.missing + report.extra + report.changed > 0) {
      const message = `registry drift repaired from the ledger: ${report.missing} missing, ${report.extra} extra, ${report.changed} changed`;
      log.warn(message);
      this.ledger.audit({ kind: "repair", message, details: { ...report } });
      this.events.emit("registry.repaired", message, { details: { ...report } });
    }
    return report;
  }

  /** Runs a repair: healthy once it is done; when it fails, what the comparison found stands. */
  private async afterRepair(found: RegistryHealthReport, repair: () => Promise<void>): Promise<void> {
    try {
      await repair();
    } catch (error) {
      this.report(found);
      throw error;
    }
    this.report({ health: "healthy" });
  }

  private healthOf(report: DriftReport): RegistryHealthReport {
    if (report.missing > 0) {
      return { health: "lost", detail: `${report.missing} of ${this.expectedCount()} borrow entries missing` };
    }
    if (report.changed > 0)
      return { health: "corrupt", detail: `${report.changed} borrow entries differ from the ledger` };
    return { health: "healthy" };
  }

  /**
   * Streams the registry's entries against the index: each entry is decoded, compared and dropped,
   * so a registry of many entries holds one batch of them at a time.
   */
  private async compare(): Promise<Drift> {
    const report: DriftReport = { missing: 0, extra: 0, changed: 0, replaced: false };
    const repairs: EntryOps[] = [];
    const seen = new Set<string>();
    const unparsable: string[] = [];
    const scan = await scanBorrowKeys(this.registry, (serial, idText, key) => {
      const known = this.index.get(serial, Number(idText));
      // Most entries are exactly as written: their stored text is compared, nothing decoded.
      if (
        known !== undefined &&
        key.valueLines !== undefined &&
        String(known.id) === idText &&
        isMirrored(known) &&
        key.valueLines === entryValueLines(known)
      ) {
        seen.add(borrowKey(serial, known.id));
        return;
      }
      const entry = parseBorrowEntry(serial, idText, key.values);
      if (entry === undefined) {
        unparsable.push(`${serialPath(serial)}\\${idText}`);
        return;
      }
      const { id } = entry.borrow;
      const entryKey = borrowKey(serial, id);
      seen.add(entryKey);
      const row = this.index.get(serial, id);
      if (this.dirty.has(entryKey)) return;
      if (row === undefined && this.options.keepUnrecovered && !this.recovered.has(serial)) return;
      if (row === undefined || !isMirrored(row)) {
        report.extra++;
        repairs.push({ key: entryKey, ops: [{ op: "deleteKey", path: borrowPath(serial, id) }] });
      } else if (!entryMatches(entry, row)) {
        report.changed++;
        repairs.push({ key: entryKey, ops: writeOps(row) });
      }
    });
    for (const path of unparsable) {
      report.changed++;
      repairs.push({ key: path, ops: [{ op: "deleteKey", path }] });
    }
    // Empty serial keys left behind by returns are harmless but untidy.
    for (const serial of scan.emptySerials) {
      repairs.push({ key: serialPath(serial), ops: [{ op: "deleteKey", path: serialPath(serial) }] });
    }
    for (const { row } of this.index.all()) {
      const key = borrowKey(row.serial, row.id);
      if (!this.expects(row, key) || seen.has(key)) continue;
      report.missing++;
      // Not seen: no key, or one removed above as unparsable; the sets create it.
      repairs.push({ key, ops: setOps(row) });
    }
    return { report, repairs };
  }

  /** The rule: a borrow a client holds is in the registry, unless its write is pending or the registry refused it. */
  private expects(row: BorrowRow, key: string): boolean {
    return isMirrored(row) && !this.dirty.has(key) && !this.refusedEntries.has(key);
  }

  private expectedCount(): number {
    let count = 0;
    for (const { row } of this.index.all()) if (this.expects(row, borrowKey(row.serial, row.id))) count++;
    return count;
  }

  private report(report: RegistryHealthReport): void {
    if (this.closed) return;
    const last = this.healthSubject.getValue();
    if (last.health === report.health && last.detail === report.detail) return;
    this.healthSubject.next(report);
  }

  private async replaceFromLedger(reason: string): Promise<void> {
    this.dirty.clear();
    const rows = Array.from(this.index.all(), (entry) => entry.row).filter(
      (row) => !this.refusedEntries.has(borrowKey(row.serial, row.id)),
    );
    try {
      await this.registry.replaceAll(treeFromRows(rows));
      this.writes++;
    } catch (error) {
      if (!(error instanceof RegistryInvalidArgumentError)) throw error;
      // One entry the registry cannot hold must not keep the others out: start from an empty copy
      // and write the entries in batches that set the refused ones aside.
      await this.registry.replaceAll(treeFromRows([]));
      this.writes++;
      await this.applyIsolated(
        rows.filter(isMirrored).map((row) => ({ key: borrowKey(row.serial, row.id), ops: setOps(row) })),
      );
    }
    this.healthy = true;
    this.lastError = undefined;
    const message = `registry rewritten from the ledger (${reason})`;
    log.warn(message);
    this.ledger.audit({ kind: "repair", message, details: { reason, replaced: true } });
    this.events.emit("registry.repaired", message, { details: { reason, replaced: true } });
  }

  private scheduleCheck(): void {
    if (this.closed) return;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      this.check()
        .catch((error: unknown) => log.warn("registry check failed", { error: String(error) }))
        .finally(() => this.scheduleCheck());
    }, this.options.checkMs);
    this.checkTimer.unref();
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

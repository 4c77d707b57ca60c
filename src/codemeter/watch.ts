import { BehaviorSubject, type Observable, Subject, type Subscription } from "rxjs";
import type { ClockJumpEvent, HostIdentity, Timers } from "../host/index.js";
import { backgroundTimers } from "../host/index.js";
import { PollLoop } from "../host/poll-loop.js";
import { layerLogger } from "../log.js";
import { isPreflightAction, type PreflightAction, UnknownPreflightActionError } from "../reconcile/index.js";
import { type CaptureBundle, type CaptureOptions, captureBundle } from "./capture.js";
import { CodeMeterWatchClosedError } from "./errors.js";
import { type BookOptions, BorrowBook } from "./model/borrow-book.js";
import { restoreFacts } from "./model/facts.js";
import type { Finding } from "./model/findings.js";
import type { WatchInput } from "./model/inputs.js";
import { type CodeMeterMaintenanceAdvice, maintenanceAdvice } from "./model/maintenance.js";
import type { ObservationAudit } from "./model/observations.js";
import { type CodeMeterPreflight, codeMeterPreflight } from "./model/preflight.js";
import { restoreBorrow, restoreLicense } from "./model/restore.js";
import {
  CODEMETER_SEVERITY,
  type CodeMeterRiskKind,
  type DerivedRisk,
  deriveRisks,
  type MaintenanceWindow,
  type RiskSeverity,
  riskKey,
} from "./model/risks.js";
import { buildView, type CodeMeterView } from "./model/view.js";
import type { RuntimeSource } from "./sources/cmu.js";
import type { ServerConfigSource } from "./sources/server-config.js";
import type { StickSource } from "./sources/sticks.js";
import type { TrackingLogSource } from "./sources/tracking-log.js";
import type { CodeMeterObservationStore } from "./store.js";

const log = layerLogger("codemeter");

/** A risk to CodeMeter borrows, in the shape of keybridge's own risks plus where it comes from. */
export interface CodeMeterRisk {
  readonly kind: CodeMeterRiskKind;
  readonly severity: RiskSeverity;
  /** Plain language: what happened and which CodeMeter borrows it endangers. */
  readonly message: string;
  /** What to do about it. */
  readonly advice: string;
  /** When its cause was first seen (ISO); stays while the risk is open. */
  readonly since: string;
  readonly source: "codemeter";
  /** The stick (container serial) it concerns, when it concerns one. */
  readonly serial?: string;
  /** The CodeMeter borrow ids it endangers (strings: `<mask>-<serial>-<firm code>-<index>`). */
  readonly borrows: readonly string[];
}

export type CodeMeterEventType =
  | "codemeter.borrow.seen"
  | "codemeter.borrow.relisted"
  | "codemeter.borrow.missing"
  | "codemeter.borrow.gone"
  | "codemeter.risk.raised"
  | "codemeter.risk.cleared";

export interface CodeMeterEvent {
  readonly type: CodeMeterEventType;
  /** ISO time. */
  readonly at: string;
  readonly message: string;
  readonly borrowId?: string;
  readonly serial?: string;
  readonly risk?: CodeMeterRisk;
}

/** The sources the watch reads; each is read-only. */
export interface CodeMeterWatchSources {
  readonly runtime: RuntimeSource;
  readonly config: ServerConfigSource;
  readonly trackingLog: TrackingLogSource;
  /** CmSticks on USB; without it, presence comes from cmu's container list alone. */
  readonly sticks?: StickSource;
  /** The host identity and clock monitors' streams (src/host). */
  readonly host?: {
    readonly identity$: Observable<HostIdentity>;
    readonly clockJumps$?: Observable<ClockJumpEvent>;
  };
  /** keybridge's planned maintenance window, if any (epoch ms). */
  readonly maintenance$?: Observable<MaintenanceWindow | null>;
}

export interface CodeMeterWatchOptions {
  /** Epoch-ms clock. Default Date.now. */
  readonly now?: () => number;
  readonly timers?: Timers;
  /** cmu is run this often. Default 30 000 ms. */
  readonly runtimePollMs?: number;
  /** The configuration is read this often. Default 10 000 ms. */
  readonly configPollMs?: number;
  /** The tracking log is checked for new lines this often. Default 2000 ms. */
  readonly logPollMs?: number;
  /** Time-driven changes (expiry, the end of a re-listing) are looked at this often. Default 30 000 ms. */
  readonly tickMs?: number;
  readonly book?: BookOptions;
  /** keybridge's version, for the capture bundle. */
  readonly keybridgeVersion?: string;
}

export interface MaintenanceWindowInput {
  /** When the window starts: ISO time, Date or epoch ms. */
  readonly at: string | number | Date;
  readonly until?: string | number | Date | null;
}

function epochOf(value: string | number | Date): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(value)}`);
  return ms;
}

/**
 * The CodeMeter mode in one object: it reads the sources it is given (never writes to them),
 * keeps the borrow book, saves what it observes in the store, and answers for CodeMeter borrows
 * the questions keybridge answers for its own: the picture (`view`), the risks (`risks$`),
 * `preflight`, maintenance advice and a capture bundle. Everything it starts stops at `close()`.
 */
export class CodeMeterWatch {
  readonly #sources: CodeMeterWatchSources;
  readonly #store: CodeMeterObservationStore;
  readonly #now: () => number;
  readonly #options: CodeMeterWatchOptions;
  readonly #book: BorrowBook;
  readonly #risks = new BehaviorSubject<readonly CodeMeterRisk[]>([]);
  readonly #events = new Subject<CodeMeterEvent>();
  readonly #since = new Map<string, number>();
  readonly #subscriptions: Subscription[] = [];
  readonly #loops: PollLoop[] = [];
  #maintenance: MaintenanceWindow | null = null;
  #savedFacts: string;
  #storeFinding: Finding | null = null;
  #started = false;
  #closed = false;

  /** The open CodeMeter risks: the current list to each new subscriber, then every change. */
  readonly risks$: Observable<readonly CodeMeterRisk[]> = this.#risks.asObservable();
  /** Borrows seen, re-listed, missing, gone; risks raised and cleared. Not replayed. */
  readonly events$: Observable<CodeMeterEvent> = this.#events.asObservable();

  constructor(sources: CodeMeterWatchSources, store: CodeMeterObservationStore, options: CodeMeterWatchOptions = {}) {
    this.#sources = sources;
    this.#store = store;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const goneRetentionMs = options.book?.goneRetentionMs ?? 60 * 86_400_000;
    const stored = store.load({ goneSinceMs: this.#now() - goneRetentionMs });
    const borrows = stored.borrows.flatMap((value) => restoreBorrow(value) ?? []);
    const licenses = stored.licenses.flatMap((value) => restoreLicense(value) ?? []);
    const leftOut = stored.damaged + stored.borrows.length - borrows.length + stored.licenses.length - licenses.length;
    if (leftOut > 0) {
      log.warn("CodeMeter observations of an unexpected shape were left out; the next server start re-lists them", {
        rows: leftOut,
      });
    }
    const facts = restoreFacts(stored.facts);
    this.#book = new BorrowBook({ borrows, licenses, facts }, options.book);
    this.#savedFacts = JSON.stringify(facts);
  }

  /** Reads every source once (the log up to its end), then keeps following; idempotent. */
  async start(): Promise<void> {
    this.#ensureOpen("start");
    if (this.#started) return;
    this.#started = true;
    const { sticks, host, maintenance$ } = this.#sources;
    if (sticks !== undefined) {
      this.#subscriptions.push(
        sticks.sticks$.subscribe({
          next: (list) => this.#apply({ type: "sticks", now: this.#now(), sticks: list }),
          error: (error: unknown) => log.error("the CmStick source failed", { error: String(error) }),
        }),
      );
    }
    if (host !== undefined) {
      this.#subscriptions.push(
        host.identity$.subscribe((identity) =>
          this.#apply({
            type: "host",
            now: this.#now(),
            host: { ips: identity.ips, hostname: identity.hostname, machineId: identity.machineId },
            runtimeVersion: identity.driver.codeMeterRuntime,
          }),
        ),
      );
      if (host.clockJumps$ !== undefined) {
        this.#subscriptions.push(
          host.clockJumps$.subscribe((jump) =>
            this.#apply({ type: "clock-jump", now: this.#now(), direction: jump.direction, jumpMs: jump.jumpMs }),
          ),
        );
      }
    }
    if (maintenance$ !== undefined) {
      this.#subscriptions.push(
        maintenance$.subscribe((window) => {
          this.#maintenance = window;
          this.#publishRisks();
        }),
      );
    }
    await this.refresh();
    if (this.#closed) return;
    const timers = this.#options.timers ?? backgroundTimers;
    const loop = (intervalMs: number, poll: () => Promise<unknown>, what: string) => {
      const polls = new PollLoop({
        timers,
        intervalMs,
        poll,
        onError: (error) => log.error(`CodeMeter ${what} failed`, { error: error.message }),
      });
      this.#loops.push(polls);
      polls.start();
    };
    loop(this.#options.runtimePollMs ?? 30_000, () => this.#readRuntime(), "runtime poll");
    loop(this.#options.configPollMs ?? 10_000, () => this.#readConfig(), "configuration poll");
    loop(this.#options.logPollMs ?? 2_000, () => this.#readLog(), "tracking-log poll");
    loop(this.#options.tickMs ?? 30_000, async () => this.#apply({ type: "tick", now: this.#now() }), "tick");
  }

  /** Reads the configuration, cmu and the log (to its end) now. */
  async refresh(): Promise<void> {
    this.#ensureOpen("refresh");
    await this.#readConfig();
    await this.#readRuntime();
    await this.#readLog();
    this.#apply({ type: "tick", now: this.#now() });
  }

  /** The picture now. */
  view(): CodeMeterView {
    const view = buildView(this.#book, this.#now());
    return this.#storeFinding === null ? view : { ...view, findings: [...view.findings, this.#storeFinding] };
  }

  /** The open CodeMeter risks now. */
  risks(): readonly CodeMeterRisk[] {
    return this.#risks.value;
  }

  /** The tracking directory the configuration names (or its default), once it has been read. */
  configuredTrackingDir(): string | null {
    return this.#book.live.configGood?.tracking.dir ?? null;
  }

  /** Is `action` safe now for CodeMeter borrows? Reads the sources first, so a change a moment ago counts. */
  async preflight(action: PreflightAction): Promise<CodeMeterPreflight> {
    if (!isPreflightAction(action)) throw new UnknownPreflightActionError(String(action));
    await this.refresh();
    return codeMeterPreflight(action, this.#book, this.#now());
  }

  /** The WebAdmin setting to make before a maintenance window, and the CodeMeter borrows still in its way. */
  maintenanceAdvice(window: MaintenanceWindowInput): CodeMeterMaintenanceAdvice {
    const at = epochOf(window.at);
    const until = window.until === undefined || window.until === null ? null : epochOf(window.until);
    return maintenanceAdvice({ at, until }, this.#book, this.#now());
  }

  /** One bundle of what the mode reads (see captureBundle). */
  async capture(options: CaptureOptions = {}): Promise<CaptureBundle> {
    this.#ensureOpen("capture");
    return captureBundle(
      {
        runtime: this.#sources.runtime,
        config: this.#sources.config,
        trackingLog: this.#sources.trackingLog,
        view: this.view(),
        versions: { keybridge: this.#options.keybridgeVersion ?? "unknown" },
        now: this.#now(),
      },
      options,
    );
  }

  /** Stops polling and releases every subscription; the store is the caller's to close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const loop of this.#loops) loop.stop();
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    this.#risks.complete();
    this.#events.complete();
  }

  #ensureOpen(operation: string): void {
    if (this.#closed) throw new CodeMeterWatchClosedError(operation);
  }

  async #readRuntime(): Promise<void> {
    const reading = await this.#sources.runtime.read();
    this.#apply({ type: "cmu", now: this.#now(), reading });
  }

  async #readConfig(): Promise<void> {
    const reading = await this.#sources.config.read();
    this.#apply({ type: "config", now: this.#now(), reading });
  }

  async #readLog(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const result = await this.#sources.trackingLog.read((batch) =>
        this.#apply({
          type: "entries",
          now: this.#now(),
          stream: batch.stream,
          entries: batch.entries,
          atEnd: batch.atEnd,
        }),
      );
      this.#apply({ type: "tracking", now: this.#now(), status: result.status, caughtUp: !result.pending });
      if (!result.pending) return;
      // Catching up on a large log: let other work in between reads.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  #apply(input: WatchInput): void {
    if (this.#closed) return;
    const changes = this.#book.apply(input);
    const facts = JSON.stringify(this.#book.facts);
    const factsChanged = facts !== this.#savedFacts;
    if (changes.borrows.length > 0 || changes.licenses.length > 0 || changes.audit.length > 0 || factsChanged) {
      try {
        this.#store.save({
          borrows: changes.borrows,
          licenses: changes.licenses,
          audit: changes.audit,
          ...(factsChanged ? { facts: this.#book.facts } : {}),
        });
        this.#savedFacts = facts;
        this.#storeFinding = null;
      } catch (error) {
        // The picture in memory stays right; what is lost is its copy for the next start.
        log.error("cannot save CodeMeter observations", { error: (error as Error).message });
        this.#storeFinding = {
          code: "observations-unsaved",
          message: `CodeMeter observations could not be saved (${(error as Error).message}); a restart of keybridge re-learns them from the log`,
        };
      }
    }
    for (const note of changes.audit) this.#publishAudit(note);
    this.#publishRisks();
  }

  #publishAudit(note: ObservationAudit): void {
    const type = `codemeter.borrow.${note.kind.slice("codemeter-borrow-".length)}` as CodeMeterEventType;
    this.#events.next({
      type,
      at: new Date(note.at).toISOString(),
      message: note.message,
      borrowId: note.borrowId,
      ...(note.serial === null ? {} : { serial: note.serial }),
    });
  }

  #publishRisks(): void {
    if (this.#closed) return;
    const now = this.#now();
    const derived = deriveRisks(this.#book, now, { maintenance: this.#maintenance });
    const next = derived.map((risk) => this.#riskOf(risk, now));
    const before = new Map(this.#risks.value.map((risk) => [riskKey(risk.kind, risk.serial), risk]));
    const after = new Map(next.map((risk) => [riskKey(risk.kind, risk.serial), risk]));
    for (const key of this.#since.keys()) if (!after.has(key)) this.#since.delete(key);
    let changed = before.size !== after.size;
    for (const [key, risk] of after) {
      const previous = before.get(key);
      if (previous === undefined) {
        changed = true;
        this.#events.next({
          type: "codemeter.risk.raised",
          at: new Date(now).toISOString(),
          message: risk.message,
          risk,
        });
      } else if (previous.message !== risk.message || previous.advice !== risk.advice) {
        changed = true;
      }
    }
    for (const [key, risk] of before) {
      if (after.has(key)) continue;
      this.#events.next({
        type: "codemeter.risk.cleared",
        at: new Date(now).toISOString(),
        message: `cleared: ${risk.kind}${risk.serial === undefined ? "" : ` (${risk.serial})`}`,
        risk,
      });
    }
    if (changed) this.#risks.next(next);
  }

  #riskOf(risk: DerivedRisk, now: number): CodeMeterRisk {
    const key = riskKey(risk.kind, risk.serial);
    let since = this.#since.get(key);
    if (since === undefined) {
      since = risk.since ?? now;
      this.#since.set(key, since);
    }
    return {
      kind: risk.kind,
      severity: CODEMETER_SEVERITY[risk.kind],
      message: risk.message,
      advice: risk.advice,
      since: new Date(since).toISOString(),
      source: "codemeter",
      ...(risk.serial === undefined ? {} : { serial: risk.serial }),
      borrows: risk.borrows.map((borrow) => borrow.borrowId),
    };
  }
}

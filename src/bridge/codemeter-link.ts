import { BehaviorSubject, filter, map, type Observable, type Subscription, startWith } from "rxjs";
import {
  type CodeMeterMaintenanceAdvice,
  type CodeMeterModeDecision,
  type CodeMeterPreflight,
  type CodeMeterWatch,
  type CodeMeterWatchOptions,
  detectCodeMeter,
  type MaintenanceWindow,
  openCodeMeterWatch,
  resolveCodeMeterMode,
  type StickSighting,
  type StickSource,
  type TrackingLogSource,
} from "../codemeter/index.js";
import type { ClockJumpEvent } from "../host/index.js";
import type { Ledger } from "../ledger/index.js";
import { layerLogger } from "../log.js";
import type { PreflightAction } from "../reconcile/index.js";
import type { BridgeEvent, BridgeOptions, CodeMeterView, RiskView } from "./api.js";
import {
  codeMeterRiskView,
  disabledCodeMeterView,
  enabledCodeMeterView,
  failedCodeMeterView,
} from "./codemeter-views.js";
import type { EventBus } from "./event-bus.js";
import type { HostWatch } from "./host-watch.js";
import type { KeyManager } from "./key-manager.js";
import type { MaintenancePlanner } from "./maintenance.js";

const log = layerLogger("bridge");

/** What the CodeMeter link reads from the rest of the bridge. */
export interface CodeMeterLinkInputs {
  readonly dataDir: string;
  readonly settings: BridgeOptions["codemeter"];
  readonly ledger: Pick<Ledger, "codeMeterObservations">;
  readonly events: Pick<EventBus, "emit" | "events$">;
  readonly keys: Pick<KeyManager, "codeMeterSticks">;
  readonly host: Pick<HostWatch, "hostMonitor" | "clockJumps$">;
  readonly maintenance: Pick<MaintenancePlanner, "window">;
  /** Clock jumps from another source besides the clock monitor (virtual mode). */
  readonly clockJumps$?: Observable<ClockJumpEvent> | undefined;
  /** Tests: poll intervals and the clock of the watch. */
  readonly watchOptions?: CodeMeterWatchOptions | undefined;
}

/**
 * The read-only CodeMeter mode inside the bridge. It decides from the configured mode and what is
 * found on this host whether the mode runs (auto: only when CodeMeter is there; on: always, a
 * missing part is a finding; off: never); when it runs, it feeds the watch the bridge's own streams
 * (CmSticks from the key manager's discovery, the host identity and clock, the maintenance plan),
 * and publishes the watch's risks on the bridge's bus as `risk.raised` / `risk.cleared` with source
 * `codemeter`, and its borrow observations as `codemeter.borrow.*` events. `close()` stops all of it.
 */
export class CodeMeterLink {
  private readonly risksSubject = new BehaviorSubject<RiskView[]>([]);
  /** The open CodeMeter risks (source `codemeter`), replayed to each subscriber. */
  readonly risks$: Observable<RiskView[]> = this.risksSubject.asObservable();
  private readonly subscriptions: Subscription[] = [];
  private closed = false;

  private constructor(
    readonly decision: CodeMeterModeDecision,
    private readonly watch: CodeMeterWatch | undefined,
    private readonly linesParsed: () => number,
    /** Why the mode decided to run but could not start; keybridge's own borrows are served regardless. */
    private readonly failure: string | null = null,
  ) {}

  /** Decides whether the mode runs and, if so, starts the watch (its first read of every source included). */
  static async open(inputs: CodeMeterLinkInputs): Promise<CodeMeterLink> {
    const settings = inputs.settings ?? {};
    const mode = settings.mode ?? "auto";
    if (mode === "off") {
      const decision = resolveCodeMeterMode({
        mode,
        found: { serverConfig: false, cmu: false, stick: false, trackingDir: false },
      });
      return new CodeMeterLink(decision, undefined, () => 0);
    }
    const detection = await detectCodeMeter({
      ...(settings.serverIni === undefined ? {} : { serverIni: settings.serverIni }),
      ...(settings.logDir === undefined ? {} : { logDir: settings.logDir }),
      ...(settings.cmu === undefined ? {} : { cmu: settings.cmu }),
      // The key manager has listed USB already: its CmSticks, not a second enumeration.
      listSticks: async () => presentSticks(inputs.keys),
    });
    const decision = resolveCodeMeterMode({ mode, found: detection.found, where: detection.where });
    log.info("CodeMeter mode", { mode, runs: decision.runs, reason: decision.reason });
    if (!decision.runs) return new CodeMeterLink(decision, undefined, () => 0);

    try {
      return await CodeMeterLink.start(inputs, settings, decision);
    } catch (error) {
      // CodeMeter's parts must never keep keybridge from guarding its own borrows: the failure is
      // logged and shown as a finding of the CodeMeter picture.
      const message = `the CodeMeter mode could not start: ${(error as Error).message}`;
      log.error(message, { error: String(error) });
      return new CodeMeterLink(decision, undefined, () => 0, message);
    }
  }

  private static async start(
    inputs: CodeMeterLinkInputs,
    settings: NonNullable<BridgeOptions["codemeter"]>,
    decision: CodeMeterModeDecision,
  ): Promise<CodeMeterLink> {
    let parsed = 0;
    const countEntries = (source: TrackingLogSource): TrackingLogSource => ({
      read: (consume) =>
        source.read((batch) => {
          consume(batch);
          parsed += batch.entries.length;
        }),
      tail: (count) => source.tail(count),
      bytesRead: () => source.bytesRead(),
    });
    const watch = await openCodeMeterWatch({
      dataDir: inputs.dataDir,
      store: inputs.ledger.codeMeterObservations(),
      ...(settings.serverIni === undefined ? {} : { serverIni: settings.serverIni }),
      ...(settings.logDir === undefined ? {} : { logDir: settings.logDir }),
      ...(settings.cmu === undefined ? {} : { cmu: settings.cmu }),
      sticks: stickSourceOf(inputs),
      host: {
        identity$: inputs.host.hostMonitor.identity$,
        clockJumps$: inputs.clockJumps$ ?? inputs.host.clockJumps$,
      },
      maintenance$: maintenanceOf(inputs),
      ...(inputs.watchOptions === undefined ? {} : { watch: inputs.watchOptions }),
      wrapTrackingLog: countEntries,
    });
    const link = new CodeMeterLink(decision, watch, () => parsed);
    link.subscriptions.push(
      watch.risks$.subscribe((risks) => link.risksSubject.next(risks.map(codeMeterRiskView))),
      watch.events$.subscribe((event) => {
        if (event.type === "codemeter.risk.raised" || event.type === "codemeter.risk.cleared") {
          if (event.risk === undefined) return;
          const risk = codeMeterRiskView(event.risk);
          const raised = event.type === "codemeter.risk.raised";
          inputs.events.emit(raised ? "risk.raised" : "risk.cleared", raised ? risk.message : event.message, {
            ...(risk.serial === undefined ? {} : { serial: risk.serial }),
            risk,
          });
          return;
        }
        inputs.events.emit(event.type, event.message, {
          ...(event.serial === undefined ? {} : { serial: event.serial }),
          details: { source: "codemeter", ...(event.borrowId === undefined ? {} : { borrowId: event.borrowId }) },
        });
      }),
    );
    try {
      await watch.start();
    } catch (error) {
      await link.close();
      throw error;
    }
    return link;
  }

  risks(): RiskView[] {
    return this.risksSubject.getValue();
  }

  view(): CodeMeterView {
    if (this.failure !== null) return failedCodeMeterView(this.decision, this.failure);
    if (this.watch === undefined) return disabledCodeMeterView(this.decision);
    return enabledCodeMeterView(this.decision, this.watch.view(), this.watch.risks(), this.linesParsed());
  }

  /** The CodeMeter borrows' answer; null while the mode does not run. */
  async preflight(action: PreflightAction): Promise<CodeMeterPreflight | null> {
    return this.watch === undefined ? null : this.watch.preflight(action);
  }

  /** The WebAdmin setting for a window; null while the mode does not run. */
  maintenanceAdvice(window: { at: string; until: string | null }): CodeMeterMaintenanceAdvice | null {
    return this.watch === undefined ? null : this.watch.maintenanceAdvice(window);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watch?.close();
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    this.risksSubject.complete();
  }
}

function presentSticks(keys: Pick<KeyManager, "codeMeterSticks">): StickSighting[] {
  return keys
    .codeMeterSticks()
    .filter((stick) => stick.present)
    .map((stick) => ({
      // The key manager names a stick without a USB serial by its path; the mode tells those apart by path.
      serial: stick.serial.startsWith("codemeter:") ? "" : stick.serial,
      model: stick.model,
      path: stick.path,
      productId: stick.productId,
    }));
}

function isStickEvent(event: BridgeEvent): boolean {
  return (event.type === "key.attached" || event.type === "key.detached") && event.details?.kind === "codemeter";
}

/** The CmSticks present, again at every attach or detach the key manager publishes. */
function stickSourceOf(inputs: CodeMeterLinkInputs): StickSource {
  return {
    sticks$: inputs.events.events$.pipe(
      filter(isStickEvent),
      startWith(null),
      map(() => presentSticks(inputs.keys)),
    ),
  };
}

/** The bridge's planned window, again at every plan and cancel. */
function maintenanceOf(inputs: CodeMeterLinkInputs): Observable<MaintenanceWindow | null> {
  return inputs.events.events$.pipe(
    filter((event) => event.type === "maintenance.planned" || event.type === "maintenance.cancelled"),
    startWith(null),
    map(() => inputs.maintenance.window()),
  );
}

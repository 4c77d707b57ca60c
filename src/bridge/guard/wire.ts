import { merge, type Observable } from "rxjs";
import type { ClockJumpEvent } from "../../host/index.js";
import type { PreflightAction } from "../../reconcile/index.js";
import { DAY_MS } from "../../vocabulary/index.js";
import type { LicenseInput, LicenseUpdateView, MigrationView, PreflightView } from "../api.js";
import type { OpenedBridge } from "../open.js";
import type { RiskSource } from "../risk-source.js";
import { LicenseGuard } from "./license-guard.js";
import { MigrationService } from "./migrate.js";
import { guardedPreflight } from "./preflight.js";
import { RegistryWatch } from "./registry-watch.js";
import { RiskEngine } from "./risk-engine.js";

export interface GuardOptions {
  /** Registry check and time-driven risk interval. Default 5000 ms. */
  pollMs?: number;
  /** The mirror's lag (BridgeOptions.mirrorLagMs). Default 1000 ms. */
  mirrorLagMs?: number;
  /** Jumps from another source besides the bridge's clock monitor (virtual mode cannot step the wall clock). */
  clockJumps$?: Observable<ClockJumpEvent>;
}

/** The risk engine with its registry watch, fed from an open bridge. Started; `close()` releases both. */
export class BridgeRiskEngine extends RiskEngine {
  readonly registryWatch: RegistryWatch;

  constructor(bridge: OpenedBridge, options: GuardOptions = {}) {
    const { context, hostMonitor, clockMonitor } = bridge;
    const pollMs = options.pollMs ?? 5000;
    const watch = new RegistryWatch(context, { intervalMs: pollMs, lagMs: options.mirrorLagMs ?? 1000 });
    super(
      {
        events$: bridge.events$,
        hostChanges$: hostMonitor.changes$,
        clockJumps$: options.clockJumps$ ? merge(clockMonitor.jumps$, options.clockJumps$) : clockMonitor.jumps$,
        registry$: watch.health$,
        outstanding: () => context.index.rows(),
        borrow: (serial, id) => context.index.get(serial, id),
        currentBinding: () => context.binding(),
        isPresent: (serial) => context.keys.session(serial)?.present === true,
        keyNow: (serial) => context.keys.session(serial)?.keyNow() ?? Date.now(),
        settleWindowMs: (serial) => context.keys.session(serial)?.settleWindowMs ?? DAY_MS,
        ledgerExportedAt: () => {
          const value = context.ledger.getMeta("last_export_at");
          return value === undefined ? null : Number(value);
        },
        maintenance: () => context.maintenance.window(),
        ledgerProblem: () => bridge.ledgerWatch.problem(),
        emit: (type, message, extra) => context.events.emit(type, message, extra),
      },
      { pollMs, ledgerRebuilt: context.ledger.rebuilt },
    );
    this.registryWatch = watch;
    this.start();
    watch.start();
  }

  override close(): void {
    this.registryWatch.close();
    super.close();
  }
}

/**
 * Migration, the license-update guard and preflight over an open bridge, each probing the host
 * first so they act on the identity of now. `risks` (when given) learns of refused updates.
 */
export class GuardServices {
  private readonly migration: MigrationService;
  private readonly licenses: LicenseGuard;

  constructor(
    private readonly bridge: Pick<OpenedBridge, "context" | "hostMonitor">,
    private readonly answer: (action: PreflightAction) => Promise<PreflightView>,
    risks?: RiskSource,
  ) {
    const refreshHost = async () => {
      await bridge.hostMonitor.check();
    };
    this.migration = new MigrationService(bridge.context, { refreshHost });
    this.licenses = new LicenseGuard(bridge.context, risks instanceof RiskEngine ? risks : undefined);
  }

  migrate(): Promise<MigrationView> {
    return this.migration.migrate();
  }

  licenseUpdate(
    serial: string,
    licenses: LicenseInput[],
    options: { force?: boolean } = {},
  ): Promise<LicenseUpdateView> {
    return this.licenses.update(serial, licenses, options);
  }

  preflight(action: PreflightAction): Promise<PreflightView> {
    return guardedPreflight(action, {
      refreshHost: async () => {
        await this.bridge.hostMonitor.check();
      },
      answer: this.answer,
    });
  }
}

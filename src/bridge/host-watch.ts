import { join } from "node:path";
import type { Observable, Subscription } from "rxjs";
import {
  bindingHex,
  CLOCK_STATE_FILE,
  type ClockJumpEvent,
  ClockMonitor,
  computeBinding,
  FileLastSeenStore,
  type HostChangedEvent,
  type HostComponent,
  HostMonitor,
  type HostProbe,
} from "../host/index.js";
import { layerLogger } from "../log.js";
import type { EventBus } from "./event-bus.js";

const log = layerLogger("bridge");

export interface HostWatchOptions {
  readonly dataDir: string;
  /** Host identity poll. */
  readonly pollMs: number;
  /** Wall-clock check. */
  readonly clockCheckMs: number;
  /** The identity components the binding is computed from. */
  readonly components: readonly HostComponent[];
}

/**
 * The host identity and the wall clock, watched: the binding of now (what borrows are bound to),
 * `host.changed` and `clock.jump` on the bridge's bus, and the monitors' own streams for the risk
 * engine. `close()` releases both monitors and every subscription.
 */
export class HostWatch {
  private current: string;
  private readonly subscriptions: Subscription[] = [];

  private constructor(
    readonly hostMonitor: HostMonitor,
    readonly clockMonitor: ClockMonitor,
    binding: string,
  ) {
    this.current = binding;
  }

  /** Probes the host once and starts both monitors; their events go to `events`. */
  static async start(probe: HostProbe, options: HostWatchOptions, events: Pick<EventBus, "emit">): Promise<HostWatch> {
    const components = [...options.components];
    const hostMonitor = new HostMonitor(probe, { intervalMs: options.pollMs, bindingComponents: components });
    const clockMonitor = new ClockMonitor(new FileLastSeenStore(join(options.dataDir, CLOCK_STATE_FILE)), {
      intervalMs: options.clockCheckMs,
    });
    let identity: Awaited<ReturnType<HostMonitor["start"]>>;
    try {
      identity = await hostMonitor.start();
    } catch (error) {
      hostMonitor.close();
      clockMonitor.close();
      throw error;
    }
    const watch = new HostWatch(hostMonitor, clockMonitor, bindingHex(computeBinding(identity, components)));
    watch.subscriptions.push(
      hostMonitor.identity$.subscribe((next) => {
        watch.current = bindingHex(computeBinding(next, components));
      }),
      hostMonitor.changes$.subscribe((change) => {
        events.emit(
          "host.changed",
          `host identity changed: ${change.changes.map((c) => c.component).join(", ")}` +
            (change.bindingChanged ? " (outstanding borrows no longer match this host)" : ""),
          { details: { changes: change.changes, bindingChanged: change.bindingChanged } },
        );
      }),
      clockMonitor.jumps$.subscribe((jump) => {
        events.emit("clock.jump", `the wall clock jumped ${jump.direction} by ${Math.round(jump.jumpMs / 1000)} s`, {
          details: { ...jump, at: jump.at.toISOString() },
        });
      }),
    );
    await clockMonitor.start().catch((error: unknown) => {
      log.error("clock monitor could not start", { error: String(error) });
    });
    return watch;
  }

  /** The current host binding, lower-case hex (32 bytes). */
  binding(): string {
    return this.current;
  }

  get changes$(): Observable<HostChangedEvent> {
    return this.hostMonitor.changes$;
  }

  get clockJumps$(): Observable<ClockJumpEvent> {
    return this.clockMonitor.jumps$;
  }

  /** Probes the host now, so a change made a moment ago is seen. */
  async refresh(): Promise<void> {
    await this.hostMonitor.check();
  }

  close(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    this.clockMonitor.close();
    this.hostMonitor.close();
  }
}

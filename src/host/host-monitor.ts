import { type Observable, ReplaySubject, Subject } from "rxjs";
import { layerLogger } from "../log.js";
import { SerialQueue } from "../serial-queue.js";
import { MonitorClosedError } from "./errors.js";
import {
  DEFAULT_BINDING_COMPONENTS,
  diffIdentity,
  type HostChange,
  type HostComponent,
  type HostIdentity,
} from "./identity.js";
import { PollLoop } from "./poll-loop.js";
import type { HostProbe } from "./probe.js";
import { backgroundTimers, type Timers } from "./timers.js";

const log = layerLogger("host");

export interface HostChangedEvent {
  type: "host.changed";
  at: Date;
  before: HostIdentity;
  after: HostIdentity;
  changes: HostChange[];
  /** True when a component borrows are bound to changed: outstanding borrows no longer match this host. */
  bindingChanged: boolean;
}

export interface HostMonitorOptions {
  /** Time between the end of one probe and the start of the next. Default 5 s. */
  intervalMs?: number;
  /** The components borrows are bound to; decides `bindingChanged`. */
  bindingComponents?: readonly HostComponent[];
  timers?: Timers;
  now?: () => Date;
}

/**
 * Polls a HostProbe and reports every change of the host's identity. Probes never overlap: the
 * next one is scheduled when the previous one has finished, and `check()` queues behind it.
 */
export class HostMonitor {
  readonly #probe: HostProbe;
  readonly #bindingComponents: readonly HostComponent[];
  readonly #now: () => Date;
  readonly #identity = new ReplaySubject<HostIdentity>(1);
  readonly #changes = new Subject<HostChangedEvent>();
  readonly #errors = new Subject<Error>();
  readonly #probes = new SerialQueue();
  readonly #polls: PollLoop;
  #current: HostIdentity | undefined;
  #closed = false;

  /** The current identity: replays the latest to new subscribers, then emits each changed one. */
  readonly identity$: Observable<HostIdentity> = this.#identity.asObservable();
  readonly changes$: Observable<HostChangedEvent> = this.#changes.asObservable();
  /** Failures of background polls (a poll started by `check()` rejects to its caller instead). */
  readonly errors$: Observable<Error> = this.#errors.asObservable();

  constructor(probe: HostProbe, options: HostMonitorOptions = {}) {
    this.#probe = probe;
    this.#bindingComponents = options.bindingComponents ?? DEFAULT_BINDING_COMPONENTS;
    this.#now = options.now ?? (() => new Date());
    this.#polls = new PollLoop({
      timers: options.timers ?? backgroundTimers,
      intervalMs: options.intervalMs ?? 5000,
      poll: () => this.check(),
      onError: (failure) => {
        log.warn("host probe failed", { error: failure.message });
        if (!this.#closed) this.#errors.next(failure);
      },
    });
  }

  get current(): HostIdentity | undefined {
    return this.#current;
  }

  /** Probes once (rejecting if that fails) and then keeps polling in the background; idempotent. */
  async start(): Promise<HostIdentity> {
    await this.check();
    if (this.#closed || this.#current === undefined) throw new MonitorClosedError("host monitor");
    this.#polls.start();
    return this.#current;
  }

  /** Probes now; resolves the change event, or undefined when nothing changed or the monitor is closed. */
  check(): Promise<HostChangedEvent | undefined> {
    return this.#probes.run(() => this.#checkNow());
  }

  /** Stops polling and completes the observables; a probe in flight finishes without emitting. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#polls.stop();
    this.#identity.complete();
    this.#changes.complete();
    this.#errors.complete();
  }

  async #checkNow(): Promise<HostChangedEvent | undefined> {
    if (this.#closed) return undefined;
    const after = await this.#probe.probe();
    if (this.#closed) return undefined;
    const before = this.#current;
    this.#current = after;
    if (before === undefined) {
      this.#identity.next(after);
      return undefined;
    }
    const changes = diffIdentity(before, after);
    if (changes.length === 0) return undefined;
    const bindingChanged = changes.some((change) => this.#bindingComponents.includes(change.component));
    const event: HostChangedEvent = { type: "host.changed", at: this.#now(), before, after, changes, bindingChanged };
    log.info("host identity changed", {
      components: changes.map((change) => change.component),
      bindingChanged,
    });
    this.#identity.next(after);
    this.#changes.next(event);
    return event;
  }
}

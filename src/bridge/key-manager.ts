import { filter, firstValueFrom, map, type Observable, Subject, type Subscription } from "rxjs";
import { isCodedError } from "../errors.js";
import { CounterfeitKeyError, connectKey, type LicenseUpdateSigner, type PinStore } from "../key/index.js";
import type { Ledger } from "../ledger/index.js";
import { layerLogger } from "../log.js";
import {
  type DeviceEvent,
  type DiscoveredDevice,
  type HidBackend,
  KeyDisconnected,
  listAllDevices,
  openHidPort,
  Transport,
  watchDevices,
} from "../transport/index.js";
import type { KeyExchangeView } from "./api.js";
import type { EventBus } from "./event-bus.js";
import { type KeyPhase, KeySession } from "./key-session.js";

const log = layerLogger("bridge");

export interface CodeMeterStickInfo {
  serial: string;
  path: string;
  model: string;
  productId: number;
  present: boolean;
}

export interface KeyManagerOptions {
  backend: HidBackend;
  pins: PinStore;
  /** Pins, each key's last attach, and the audit entry of a counterfeit. */
  ledger: Pick<Ledger, "audit" | "getPinnedKey" | "listKeys" | "touchKey">;
  events: Pick<EventBus, "emit">;
  exchangeTimeoutMs: number;
  queueLimit: number;
  debounceMs?: number;
  pollMs?: number;
  /** First delay before enumerating again after an enumeration failed; doubles up to 30 s. Default 1 000 ms. */
  enumerationRetryMs?: number;
  /** Host binding now (hex), recorded as the key's last binding on attach. */
  currentBinding(): string;
  /**
   * Seat counts are kept from the answers of BORROW and SETTLE; a listing older than this is
   * renewed (the key clears dummies by itself, K4/K5). Default 60 000 ms.
   */
  licenseRefreshMs?: number;
  /** Signs bare license sets for keys that take only vendor-signed updates (virtual mode's demo vendor). */
  licenseSigner?: LicenseUpdateSigner;
}

/**
 * A key's step in its life with the bridge: `attached` (connected, not serving yet), `recovered`
 * (the ledger and the key agree), `serving`, `detached`.
 */
export interface KeyLifecycleEvent {
  readonly phase: Exclude<KeyPhase, "absent"> | "detached";
  readonly session: KeySession;
}

const DEFAULT_LICENSE_REFRESH_MS = 60_000;
const MAX_ENUMERATION_RETRY_MS = 30_000;

/**
 * Follows the keys on the bus: connects each keybridge key (pinning its public key, refusing a
 * counterfeit), keeps a KeySession per serial, and lists CodeMeter sticks as watch-only. Attach
 * and detach are handled one at a time, in the order they were seen.
 *
 * Each key's life is published on `lifecycle$`: attached → recovered → serving, and detached. A key
 * serves only once whoever follows `attached` (recovery) has called `markRecovered`, or
 * `serveUnrecovered` when recovery could not finish; until then the next attach or detach waits.
 */
export class KeyManager {
  private readonly sessions = new Map<string, KeySession>();
  private readonly sticks = new Map<string, CodeMeterStickInfo>();
  /** Paths of keys refused as counterfeit: never opened again until they re-enumerate. */
  private readonly refused = new Set<string>();
  /** Serials seen in the ledger but not attached in this run. */
  private readonly knownSerials = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private subscription: Subscription | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private licenseTimer: NodeJS.Timeout | undefined;
  private enumerationRetryTimer: NodeJS.Timeout | undefined;
  private enumerationFailures = 0;
  private closed = false;
  private readonly exchangeSubject = new Subject<KeyExchangeView>();
  /** Every exchange with any keybridge key as it ends, timed (for latency metrics). */
  readonly exchanges$: Observable<KeyExchangeView> = this.exchangeSubject.asObservable();
  private readonly lifecycleSubject = new Subject<KeyLifecycleEvent>();
  /** Each key's steps: attached → recovered → serving, and detached. Not replayed. */
  readonly lifecycle$: Observable<KeyLifecycleEvent> = this.lifecycleSubject.asObservable();

  constructor(private readonly options: KeyManagerOptions) {
    for (const key of options.ledger.listKeys()) this.knownSerials.add(key.serial);
  }

  /** Connects the keys present now (with recovery), then follows hotplug. */
  async start(): Promise<void> {
    await this.rescan();
    this.subscription = watchDevices(this.options.backend, {
      ...(this.options.debounceMs === undefined ? {} : { debounceMs: this.options.debounceMs }),
      ...(this.options.pollMs === undefined ? {} : { pollMs: this.options.pollMs }),
    }).subscribe({
      next: (event) => void this.enqueue(() => this.onDeviceEvent(event)),
      error: (error: unknown) => log.error("device watch failed", { error: String(error) }),
    });
    const refreshMs = this.options.licenseRefreshMs ?? DEFAULT_LICENSE_REFRESH_MS;
    this.licenseTimer = setInterval(() => this.refreshStaleLicenses(refreshMs), refreshMs);
    this.licenseTimer.unref();
  }

  /** Lists the licenses of every serving key whose listing is older than `maxAgeMs`. */
  refreshStaleLicenses(maxAgeMs: number, now: number = Date.now()): void {
    for (const session of this.servingSessions()) {
      if (now - session.licensesListedAt >= maxAgeMs) this.refreshLicensesInBackground(session, "periodic");
    }
  }

  /** Re-lists a key's licenses without waiting; a failure is logged (the next trigger lists again). */
  refreshLicensesInBackground(session: KeySession, reason: string): void {
    session.refreshLicenses().catch((error: unknown) => {
      log.warn("listing the key's licenses failed; seat counts stay as last known", {
        serial: session.serial,
        reason,
        code: errorCode(error),
        error: String(error),
      });
    });
  }

  /** Enumerates now and attaches or detaches whatever differs from what the manager holds. */
  rescan(): Promise<void> {
    return this.enqueue(async () => {
      let devices: DiscoveredDevice[];
      try {
        devices = await listAllDevices(this.options.backend);
      } catch (error) {
        this.retryEnumerationLater(error);
        return;
      }
      this.enumerationFailures = 0;
      const paths = new Set(devices.map((device) => device.path));
      for (const session of this.sessions.values()) {
        if (session.present && !paths.has(session.path)) await this.detach(session.path);
      }
      for (const [path, stick] of this.sticks) if (stick.present && !paths.has(path)) await this.detach(path);
      for (const path of this.refused) if (!paths.has(path)) this.refused.delete(path);
      for (const device of devices) await this.attach(device);
    });
  }

  /**
   * A failed enumeration (udev busy, a USB hub resetting) would otherwise leave a present key
   * unseen until some later USB event: enumerate again after a delay that doubles per failure.
   */
  private retryEnumerationLater(error: unknown): void {
    this.enumerationFailures++;
    const base = this.options.enumerationRetryMs ?? 1000;
    const delayMs = Math.min(MAX_ENUMERATION_RETRY_MS, base * 2 ** Math.min(this.enumerationFailures - 1, 16));
    log.warn("device enumeration failed; enumerating again later", {
      code: errorCode(error),
      error: String(error),
      failures: this.enumerationFailures,
      retryInMs: delayMs,
    });
    if (this.closed || this.enumerationRetryTimer !== undefined) return;
    this.enumerationRetryTimer = setTimeout(() => {
      this.enumerationRetryTimer = undefined;
      void this.rescan();
    }, delayMs);
    this.enumerationRetryTimer.unref();
  }

  session(serial: string): KeySession | undefined {
    return this.sessions.get(serial);
  }

  presentSessions(): KeySession[] {
    return Array.from(this.sessions.values()).filter((session) => session.present);
  }

  /** Present keys whose recovery has finished: the only ones operations may use. */
  servingSessions(): KeySession[] {
    return Array.from(this.sessions.values()).filter((session) => session.present && session.serving);
  }

  allSessions(): KeySession[] {
    return Array.from(this.sessions.values());
  }

  /** Serials pinned in the ledger that have not been attached in this run. */
  absentKnownSerials(): string[] {
    return Array.from(this.knownSerials).filter((serial) => !this.sessions.has(serial));
  }

  codeMeterSticks(): CodeMeterStickInfo[] {
    return Array.from(this.sticks.values());
  }

  /**
   * Runs `work` on the key's client; a disconnect marks the key absent (until hotplug or a
   * rescan brings it back) and is rethrown for the caller.
   */
  async call<T>(session: KeySession, work: (client: NonNullable<KeySession["client"]>) => Promise<T>): Promise<T> {
    const client = session.requireClient();
    try {
      return await work(client);
    } catch (error) {
      if (error instanceof KeyDisconnected) this.markDisconnected(session, error);
      throw error;
    }
  }

  /** The ledger and the attached key agree again: the key serves. */
  markRecovered(session: KeySession): void {
    if (session.phase !== "attached") return;
    session.markRecovered();
    this.lifecycleSubject.next({ phase: "recovered", session });
  }

  /** Recovery failed (it runs again at the next attach); the key serves all the same, for reading and what the ledger allows. */
  serveUnrecovered(session: KeySession): void {
    if (session.phase !== "attached") return;
    session.startServing();
    this.lifecycleSubject.next({ phase: "serving", session });
  }

  /** A transport failure: the key is absent until it re-attaches. */
  markDisconnected(session: KeySession, error: unknown): void {
    if (!session.present) return;
    const client = this.detachSession(session);
    void client?.close().catch((closeError: unknown) => logCloseFailure(session.serial, closeError));
    log.warn("key disconnected", { serial: session.serial, error: String(error) });
    this.options.events.emit("key.detached", `key ${session.serial} stopped answering`, {
      serial: session.serial,
      details: { reason: "transport" },
    });
    if (this.closed) return;
    clearTimeout(this.rescanTimer);
    this.rescanTimer = setTimeout(() => void this.rescan(), this.options.debounceMs ?? 250);
    this.rescanTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.rescanTimer);
    clearTimeout(this.enumerationRetryTimer);
    clearInterval(this.licenseTimer);
    this.subscription?.unsubscribe();
    // enqueue's chain already logs each failure; close only waits for it.
    await this.chain.catch(() => undefined);
    for (const session of this.sessions.values()) {
      const client = this.detachSession(session);
      await client?.close().catch((error: unknown) => log.debug("closing a key failed", { error: String(error) }));
    }
    this.exchangeSubject.complete();
    this.lifecycleSubject.complete();
  }

  private detachSession(session: KeySession): ReturnType<KeySession["detach"]> {
    const wasPresent = session.present;
    const client = session.detach();
    if (wasPresent) this.lifecycleSubject.next({ phase: "detached", session });
    return client;
  }

  /** Resolves true once the session left `attached` to serve, false once it was detached. */
  private whenServable(session: KeySession): Promise<boolean> {
    return firstValueFrom(
      this.lifecycle$.pipe(
        filter((event) => event.session === session && event.phase !== "attached"),
        map((event) => event.phase !== "detached"),
      ),
      { defaultValue: false },
    );
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(() => (this.closed ? undefined : work()));
    this.chain = run.catch((error: unknown) => log.error("key attach handling failed", { error: String(error) }));
    return run;
  }

  private async onDeviceEvent(event: DeviceEvent): Promise<void> {
    if (event.type === "detach") {
      await this.detach(event.path);
      return;
    }
    // The event lacks ids and model: take them from a fresh enumeration (a device gone by then is skipped).
    const devices = await listAllDevices(this.options.backend).catch((error: unknown) => {
      this.retryEnumerationLater(error);
      return [];
    });
    const listed = devices.find((d) => d.path === event.path);
    if (listed !== undefined) await this.attach(listed);
  }

  private async attach(device: DiscoveredDevice): Promise<void> {
    if (device.kind === "codemeter") {
      const known = this.sticks.get(device.path);
      if (known?.present) return;
      const serial = device.serial === "" ? `codemeter:${device.path}` : device.serial;
      this.sticks.set(device.path, {
        ...{ serial, path: device.path, model: device.model },
        ...{ productId: device.productId, present: true },
      });
      this.options.events.emit("key.attached", `CodeMeter stick ${serial} (${device.model}) attached; watched only`, {
        serial,
        details: { kind: "codemeter", model: device.model },
      });
      return;
    }
    if (this.refused.has(device.path)) return;
    for (const session of this.sessions.values()) if (session.present && session.path === device.path) return;
    let transport: Transport | undefined;
    try {
      transport = await Transport.open(
        await openHidPort(this.options.backend, {
          path: device.path,
          serial: device.serial,
          vendorId: device.vendorId,
          productId: device.productId,
        }),
        { timeoutMs: this.options.exchangeTimeoutMs, queueLimit: this.options.queueLimit },
      );
      const timed = { serial: undefined as string | undefined };
      const client = await connectKey(transport, this.options.pins, {
        ...(this.options.licenseSigner === undefined ? {} : { licenseSigner: this.options.licenseSigner }),
        onExchange: (sample) =>
          this.exchangeSubject.next({ ...sample, ...(timed.serial === undefined ? {} : { serial: timed.serial }) }),
      });
      timed.serial = client.serial;
      const serial = client.serial;
      let session = this.sessions.get(serial);
      if (session?.present) {
        // The same serial on a second path: keep the first, never talk to one key twice.
        log.warn("a key with this serial is already attached", { serial, path: device.path });
        await client.close();
        return;
      }
      const time = await client.getTime();
      const licenses = await client.listLicenses();
      if (session === undefined) {
        session = new KeySession(serial, client.info, device.path);
        this.sessions.set(serial, session);
      }
      session.attach(client, device.path, { keyTimeMs: time.keyTimeMs, licenses });
      this.knownSerials.add(serial);
      const previous = this.options.ledger.getPinnedKey(serial);
      const binding = this.options.currentBinding();
      try {
        this.options.ledger.touchKey(serial, {
          lastSeen: session.lastSeen,
          lastBinding: binding,
          licenseSetVersion: client.info.licenseSetVersion,
        });
      } catch (error) {
        // A full disk must not hide the key: it is served for reading, and every write is refused on its own.
        log.warn("could not record the key's attach in the ledger; the key is served all the same", {
          serial,
          code: errorCode(error),
          error: String(error),
        });
      }
      // Subscribed before `attached` is published: a follower may answer at once.
      const servable = this.whenServable(session);
      this.lifecycleSubject.next({ phase: "attached", session });
      if (!(await servable)) return;
      if (session.phase === "recovered") {
        session.startServing();
        this.lifecycleSubject.next({ phase: "serving", session });
      }
      this.options.events.emit("key.attached", `key ${serial} attached`, {
        serial,
        details: { kind: "keybridge", path: device.path, firmwareVersion: client.info.firmwareVersion },
      });
      if (previous?.lastBinding != null && previous.lastBinding !== binding) {
        this.options.events.emit("key.moved", `key ${serial} was last attached to another host identity`, {
          serial,
          details: { lastBinding: previous.lastBinding, binding },
        });
      }
    } catch (error) {
      await transport?.close().catch((closeError: unknown) => logCloseFailure(device.serial, closeError));
      if (error instanceof CounterfeitKeyError) {
        this.refused.add(device.path);
        this.options.ledger.audit({
          kind: "counterfeit-key",
          serial: device.serial || null,
          message: error.message,
          details: { path: device.path },
        });
        this.options.events.emit("key.counterfeit", error.message, {
          serial: device.serial,
          details: { path: device.path },
        });
        return;
      }
      log.warn("could not connect to the key", { path: device.path, error: String(error) });
    }
  }

  private async detach(path: string): Promise<void> {
    const stick = this.sticks.get(path);
    if (stick !== undefined) {
      if (!stick.present) return;
      stick.present = false;
      this.options.events.emit("key.detached", `CodeMeter stick ${stick.serial} detached`, {
        serial: stick.serial,
        details: { kind: "codemeter" },
      });
      return;
    }
    this.refused.delete(path);
    for (const session of this.sessions.values()) {
      if (session.path !== path || !session.present) continue;
      const client = this.detachSession(session);
      // Announce first: the borrows on this key are at risk now, whatever closing the handle costs.
      this.options.events.emit("key.detached", `key ${session.serial} detached`, {
        serial: session.serial,
        details: { reason: "unplugged" },
      });
      await client?.close().catch((closeError: unknown) => logCloseFailure(session.serial, closeError));
    }
  }
}

function errorCode(error: unknown): string | undefined {
  return isCodedError(error) ? error.code : undefined;
}

function logCloseFailure(serial: string, error: unknown): void {
  log.warn("closing a key's handle failed", { serial, code: errorCode(error), error: String(error) });
}

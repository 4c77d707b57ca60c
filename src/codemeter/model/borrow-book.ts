import { DAY_MS } from "../../vocabulary/index.js";
import type { BorrowEntry, LicenseEntry, TrackingEntry } from "./entries.js";
import { type BookFacts, EMPTY_EPISODE, type EpisodeFacts, emptyFacts, type RelistWindow } from "./facts.js";
import type { Finding } from "./findings.js";
import { containerKind, parseFourPartId, sameContainer } from "./identifiers.js";
import type { CmuReading, ConfigReading, HostSnapshot, StickSighting, TrackingStatus, WatchInput } from "./inputs.js";
import {
  type BorrowObservation,
  type GoneReason,
  type LicenseObservation,
  type ObservationAudit,
  type ObservationAuditKind,
  observationKey,
} from "./observations.js";
import { BORROW_SECTIONS, type ServerConfig } from "./server-config.js";
import { isoOf } from "./timestamp.js";

/**
 * The CodeMeter borrow view, rebuilt from what the sources read. A reducer: it takes one input
 * at a time (log entries, stick sightings, cmu and configuration readings, host identity, clock
 * jumps, the passing of time) and updates the borrows and facts; it does no I/O and reads no
 * clock (every input carries `now`). What changed comes back, for the store and the audit trail.
 *
 * How borrows are known: CodeMeter writes a `Borrow` entry when a license is borrowed and again,
 * for every borrow that still exists, at each start of the server. It writes nothing when a borrow
 * is returned. So a borrow ends here when its expiry passes, or when a server start re-lists the
 * others and not it — then it is *missing*: CodeMeter lost it, and a Borrow Dummy is likely.
 */

export interface BookOptions {
  /** How long after a `CodeMeter_started` entry re-list entries are still expected. Default 2 minutes. */
  readonly relistGraceMs?: number;
  /** How long an ended borrow is remembered (to recognise a re-read of old entries). Default 60 days. */
  readonly goneRetentionMs?: number;
  /** The borrow period a dummy lasts when the borrow's own is not known. Default 30 days. */
  readonly defaultBorrowPeriodMs?: number;
  /** A net clock jump smaller than this is no risk. Default 15 minutes. */
  readonly clockThresholdMs?: number;
}

export interface StoredBook {
  readonly borrows: readonly BorrowObservation[];
  readonly licenses: readonly LicenseObservation[];
  readonly facts: BookFacts;
}

export interface BookChanges {
  readonly borrows: BorrowObservation[];
  readonly licenses: LicenseObservation[];
  readonly audit: ObservationAudit[];
}

/** What the live sources last said; not persisted (they are read again at start). */
export interface LiveReadings {
  /** null until the stick source has reported once. */
  sticks: readonly StickSighting[] | null;
  /** USB serials seen in this run: for those, USB (not cmu) decides whether the stick is present. */
  readonly usbSerialsSeen: Set<string>;
  cmu: CmuReading | null;
  /** The last reading that worked; kept through failures. */
  cmuGood: Extract<CmuReading, { kind: "ok" }> | null;
  config: ConfigReading | null;
  configGood: ServerConfig | null;
  configFindings: readonly Finding[];
  tracking: TrackingStatus | null;
  host: HostSnapshot | null;
  /** undefined: the host probe found no runtime; null: no host reading yet. */
  hostRuntimeVersion: string | undefined | null;
  /** Whether the tracking log has been read at all (some entry seen). */
  entriesSeen: boolean;
}

interface Window extends RelistWindow {
  readonly scope: string;
}

const CLOSING_TYPES = new Set<TrackingEntry["type"]>(["Access", "Release", "Denial"]);

export class BorrowBook {
  readonly #options: Required<BookOptions>;
  readonly #borrows = new Map<string, BorrowObservation>();
  readonly #licenses = new Map<string, LicenseObservation>();
  #facts: BookFacts;
  /** Open re-list windows by log file. Persisted inside the facts' scopes. */
  readonly #windows = new Map<string, Window>();
  readonly #caughtUp = new Set<string>();
  readonly live: LiveReadings = {
    sticks: null,
    usbSerialsSeen: new Set(),
    cmu: null,
    cmuGood: null,
    config: null,
    configGood: null,
    configFindings: [],
    tracking: null,
    host: null,
    hostRuntimeVersion: null,
    entriesSeen: false,
  };
  #changes: {
    borrows: Map<string, BorrowObservation>;
    licenses: Map<string, LicenseObservation>;
    audit: ObservationAudit[];
  } = { borrows: new Map(), licenses: new Map(), audit: [] };

  constructor(stored: StoredBook = { borrows: [], licenses: [], facts: emptyFacts() }, options: BookOptions = {}) {
    this.#options = {
      relistGraceMs: options.relistGraceMs ?? 120_000,
      goneRetentionMs: options.goneRetentionMs ?? 60 * DAY_MS,
      defaultBorrowPeriodMs: options.defaultBorrowPeriodMs ?? 30 * DAY_MS,
      clockThresholdMs: options.clockThresholdMs ?? 15 * 60_000,
    };
    for (const borrow of stored.borrows) this.#borrows.set(borrow.key, borrow);
    for (const license of stored.licenses) this.#licenses.set(license.licenseId, license);
    this.#facts = stored.facts;
    for (const [scope, facts] of Object.entries(stored.facts.scopes)) {
      if (facts.open !== null) this.#windows.set(facts.open.stream, { ...facts.open, scope });
    }
  }

  get facts(): BookFacts {
    return this.#facts;
  }

  get options(): Required<BookOptions> {
    return this.#options;
  }

  borrow(key: string): BorrowObservation | undefined {
    return this.#borrows.get(key);
  }

  allBorrows(): BorrowObservation[] {
    return [...this.#borrows.values()];
  }

  licenses(): LicenseObservation[] {
    return [...this.#licenses.values()];
  }

  /** Out now: not returned as far as anyone can tell, not expired. */
  outstanding(now: number): BorrowObservation[] {
    const out: BorrowObservation[] = [];
    for (const borrow of this.#borrows.values()) {
      if (borrow.status === "outstanding" && (borrow.expiresAt === null || borrow.expiresAt > now)) out.push(borrow);
    }
    return out;
  }

  /** Not re-listed at a start, and the dummy they probably became still blocks borrowing. */
  missing(now: number): BorrowObservation[] {
    const out: BorrowObservation[] = [];
    for (const borrow of this.#borrows.values()) {
      if (borrow.status === "missing" && (borrow.dummyUntil === null || borrow.dummyUntil > now)) out.push(borrow);
    }
    return out;
  }

  /** True while a server start's re-listing is still being read. */
  relistOpen(): RelistWindow[] {
    return [...this.#windows.values()];
  }

  apply(input: WatchInput): BookChanges {
    switch (input.type) {
      case "entries":
        this.#onEntries(input.stream, input.entries, input.atEnd, input.now);
        break;
      case "sticks":
        this.live.sticks = input.sticks;
        for (const stick of input.sticks) if (stick.serial !== "") this.live.usbSerialsSeen.add(stick.serial);
        break;
      case "cmu":
        this.#onCmu(input.reading, input.now);
        break;
      case "config":
        this.live.config = input.reading;
        if (input.reading.kind === "ok") {
          this.live.configGood = input.reading.config;
          this.live.configFindings = input.reading.findings;
        } else if (input.reading.kind === "failed") {
          this.live.configFindings = [input.reading.finding];
        } else {
          this.live.configFindings = [];
        }
        break;
      case "tracking":
        this.live.tracking = input.status;
        // A file that gave no batch had nothing new: it is at its end too. (A re-listing still open
        // when keybridge stopped is judged once the log has been read to its end after the restart.)
        if (input.caughtUp) for (const stream of this.#windows.keys()) this.#caughtUp.add(stream);
        break;
      case "host":
        this.live.host = input.host;
        this.live.hostRuntimeVersion = input.runtimeVersion;
        break;
      case "clock-jump":
        this.#onClockJump(input.direction, input.jumpMs, input.now);
        break;
      case "tick":
        break;
    }
    this.#passTime(input.now);
    this.#updateEpisode(input.now);
    const changes = this.#changes;
    this.#changes = { borrows: new Map(), licenses: new Map(), audit: [] };
    return { borrows: [...changes.borrows.values()], licenses: [...changes.licenses.values()], audit: changes.audit };
  }

  // ---- the runtime and the service -------------------------------------------------------

  /** The runtime version now: cmu's, else the host probe's, else the configuration's (Windows). */
  runtimeVersion(): string | null {
    const cmu = this.live.cmu?.kind === "missing" ? null : (this.live.cmuGood?.version.version ?? null);
    return cmu ?? this.live.hostRuntimeVersion ?? this.live.configGood?.runtimeVersion ?? null;
  }

  /** true/false when a source knows; null when none has said. */
  runtimePresent(): boolean | null {
    const cmu = this.live.cmu;
    if (cmu !== null && cmu.kind !== "missing") return true;
    if (typeof this.live.hostRuntimeVersion === "string") return true;
    if (cmu?.kind === "missing" || this.live.hostRuntimeVersion === undefined) return false;
    return null;
  }

  /** Serials of the CmSticks present now (USB, and cmu's list for containers USB does not name); null when unknown. */
  presentSticks(): string[] | null {
    const usb = this.live.sticks;
    const cmu = this.live.cmu?.kind === "ok" ? this.live.cmu.list.serials : null;
    if (usb === null && cmu === null) return null;
    const serials = new Set<string>();
    for (const stick of usb ?? []) if (stick.serial !== "") serials.add(stick.serial);
    for (const serial of cmu ?? []) {
      if (containerKind(serial) !== "CmStick") continue;
      if (![...serials].some((known) => sameContainer(known, serial))) serials.add(serial);
    }
    return [...serials].sort();
  }

  #onCmu(reading: CmuReading, now: number): void {
    this.live.cmu = reading;
    if (reading.kind !== "ok") return;
    this.live.cmuGood = reading;
    const running = reading.version.serviceRunning;
    const service = this.#facts.service;
    if (running !== null && (service === null || service.at <= now)) {
      if (service === null || service.running !== running || service.via !== "cmu") {
        this.#setFacts({ service: { running, at: now, via: "cmu" } });
      }
    }
  }

  #serviceFromLog(running: boolean, at: number): void {
    const service = this.#facts.service;
    if (service !== null && service.at > at) return;
    this.#setFacts({ service: { running, at, via: "log" } });
  }

  // ---- log entries ---------------------------------------------------------------------

  #onEntries(stream: string, entries: readonly TrackingEntry[], atEnd: boolean, now: number): void {
    if (entries.length > 0) this.live.entriesSeen = true;
    for (const entry of entries) {
      const open = this.#windows.get(stream);
      if (open !== undefined && this.#endsWindow(open, entry)) this.#closeWindow(stream);
      switch (entry.type) {
        case "SignedLogfile":
        case "TmrLogfile":
          if (entry.firmCode !== null) this.#addFirmCode(stream, entry.firmCode);
          break;
        case "License":
          this.#onLicense(stream, entry);
          break;
        case "Borrow":
          this.#onBorrow(stream, entry, now);
          break;
        case "Admin":
          if (entry.event?.toLowerCase() === "codemeter_started") this.#onStart(stream, entry.at);
          else if (entry.event?.toLowerCase() === "codemeter_stopped") this.#serviceFromLog(false, entry.at);
          break;
        default:
          break;
      }
    }
    if (atEnd) this.#caughtUp.add(stream);
    else this.#caughtUp.delete(stream);
  }

  #endsWindow(window: Window, entry: TrackingEntry): boolean {
    if (entry.at < window.start) return false;
    if (entry.at > window.start + this.#options.relistGraceMs) return true;
    if (CLOSING_TYPES.has(entry.type)) return true;
    return entry.type === "Admin" && entry.event?.toLowerCase() === "codemeter_stopped";
  }

  #addFirmCode(stream: string, firmCode: number): void {
    const known = this.#facts.streams[stream] ?? [];
    if (known.includes(firmCode)) return;
    this.#setFacts({ streams: { ...this.#facts.streams, [stream]: [...known, firmCode].sort((a, b) => a - b) } });
  }

  #scopeOf(stream: string): string {
    const codes = this.#facts.streams[stream] ?? [];
    return codes.length === 0 ? "all" : `fc:${codes.join(",")}`;
  }

  #inScope(borrow: BorrowObservation, stream: string): boolean {
    const codes = this.#facts.streams[stream] ?? [];
    return codes.length === 0 || (borrow.firmCode !== null && codes.includes(borrow.firmCode));
  }

  #onLicense(stream: string, entry: LicenseEntry): void {
    const parsed = parseFourPartId(entry.licenseId);
    const firmCode = entry.firmCode ?? parsed?.firmCode ?? null;
    if (firmCode !== null) this.#addFirmCode(stream, firmCode);
    const previous = this.#licenses.get(entry.licenseId);
    if (previous !== undefined && previous.seenAt > entry.at) return;
    const license: LicenseObservation = {
      licenseId: entry.licenseId,
      serial: entry.serial ?? parsed?.serial ?? null,
      firmCode,
      productCode: entry.productCode,
      productText: entry.productText,
      seenAt: entry.at,
    };
    this.#licenses.set(license.licenseId, license);
    this.#changes.licenses.set(license.licenseId, license);
    // Borrows seen before their license entry learn their product code now.
    for (const borrow of this.#borrows.values()) {
      if (borrow.licenseId !== license.licenseId || borrow.status === "gone") continue;
      if (borrow.productCode !== null && borrow.serial !== null && borrow.firmCode !== null) continue;
      this.#put({
        ...borrow,
        serial: borrow.serial ?? license.serial,
        firmCode: borrow.firmCode ?? license.firmCode,
        productCode: borrow.productCode ?? license.productCode,
        productText: borrow.productText ?? license.productText,
      });
    }
  }

  #onStart(stream: string, at: number): void {
    this.#serviceFromLog(true, at);
    if (this.#facts.lastStartAt === null || at > this.#facts.lastStartAt) this.#setFacts({ lastStartAt: at });
    const scope = this.#scopeOf(stream);
    const scopeFacts = this.#facts.scopes[scope];
    const lastStart = scopeFacts?.lastStart ?? null;
    if (lastStart !== null && lastStart >= at) return;
    if (this.#windows.has(stream)) this.#closeWindow(stream);
    const expected: string[] = [];
    for (const borrow of this.#borrows.values()) {
      if (borrow.status !== "outstanding" || borrow.firstSeen >= at) continue;
      if (borrow.expiresAt !== null && borrow.expiresAt <= at) continue;
      if (this.#inScope(borrow, stream)) expected.push(borrow.key);
    }
    const window: Window = { start: at, stream, expected, relisted: [], scope };
    this.#windows.set(stream, window);
    this.#saveScope(scope, { lastStart: at, open: window, lastRelisted: scopeFacts?.lastRelisted ?? [] });
  }

  #closeWindow(stream: string): void {
    const window = this.#windows.get(stream);
    if (window === undefined) return;
    this.#windows.delete(stream);
    const relisted = new Set(window.relisted);
    const relistedIds = new Set<string>();
    for (const key of relisted) {
      const borrow = this.#borrows.get(key);
      if (borrow !== undefined) relistedIds.add(borrow.borrowId);
    }
    for (const key of window.expected) {
      const borrow = this.#borrows.get(key);
      if (borrow === undefined || borrow.status !== "outstanding" || relisted.has(key)) continue;
      if (relistedIds.has(borrow.borrowId)) {
        this.#end(borrow, "replaced", window.start);
        continue;
      }
      const dummyUntil = window.start + this.#borrowPeriod(borrow);
      this.#put({ ...borrow, status: "missing", statusAt: window.start, missingSince: window.start, dummyUntil });
      this.#audit(
        "codemeter-borrow-missing",
        window.start,
        borrow,
        `CodeMeter borrow ${borrow.borrowId} was not re-listed when the server started at ${isoOf(window.start)}: CodeMeter lost it and a Borrow Dummy is likely (blocks borrowing until about ${isoOf(dummyUntil)})`,
        { start: isoOf(window.start), dummyUntil: isoOf(dummyUntil) },
      );
    }
    const current = this.#facts.scopes[window.scope];
    this.#saveScope(window.scope, {
      lastStart: current?.lastStart ?? window.start,
      open: null,
      lastRelisted: window.relisted,
    });
  }

  #saveScope(scope: string, facts: BookFacts["scopes"][string]): void {
    this.#setFacts({ scopes: { ...this.#facts.scopes, [scope]: facts } });
  }

  #borrowPeriod(borrow: BorrowObservation): number {
    if (borrow.knownBy === "tracking-log" && borrow.expiresAt !== null && borrow.expiresAt > borrow.firstSeen) {
      return Math.max(DAY_MS, borrow.expiresAt - borrow.firstSeen);
    }
    return this.#options.defaultBorrowPeriodMs;
  }

  #onBorrow(stream: string, entry: BorrowEntry, now: number): void {
    const license = entry.licenseId === null ? undefined : this.#licenses.get(entry.licenseId);
    const fromLicenseId = parseFourPartId(entry.licenseId);
    const firmCode = license?.firmCode ?? fromLicenseId?.firmCode ?? parseFourPartId(entry.borrowId)?.firmCode ?? null;
    if (firmCode !== null) this.#addFirmCode(stream, firmCode);
    const key = observationKey(entry.borrowId, entry.expiresAt);
    const window = this.#windows.get(stream);
    const inWindow = window !== undefined && entry.at >= window.start;
    if (inWindow && !window.relisted.includes(key)) {
      const grown: Window = { ...window, relisted: [...window.relisted, key] };
      this.#windows.set(stream, grown);
      const scopeFacts = this.#facts.scopes[grown.scope];
      this.#saveScope(grown.scope, {
        lastStart: scopeFacts?.lastStart ?? grown.start,
        open: grown,
        lastRelisted: scopeFacts?.lastRelisted ?? [],
      });
    }
    const existing = this.#borrows.get(key);
    if (existing !== undefined) {
      this.#seenAgain(existing, entry, inWindow ? (window?.start ?? null) : null);
      return;
    }
    if (entry.expiresAt !== null && entry.expiresAt <= now) return;
    if (!inWindow) {
      const scopeFacts = this.#facts.scopes[this.#scopeOf(stream)];
      const lastStart = scopeFacts?.lastStart ?? null;
      // An entry older than a start that did not re-list it: that borrow ended before the start.
      if (lastStart !== null && entry.at < lastStart && !(scopeFacts?.lastRelisted ?? []).includes(key)) return;
    }
    const borrow: BorrowObservation = {
      key,
      borrowId: entry.borrowId,
      expiresAt: entry.expiresAt,
      licenseId: entry.licenseId,
      serial: license?.serial ?? fromLicenseId?.serial ?? null,
      firmCode,
      productCode: license?.productCode ?? null,
      productText: license?.productText ?? null,
      client: entry.client,
      user: entry.user,
      server: entry.server,
      borrowSn: entry.borrowSn,
      firstSeen: entry.at,
      lastSeen: entry.at,
      knownBy: inWindow ? "relisted" : "tracking-log",
      status: "outstanding",
      statusAt: entry.at,
      missingSince: null,
      dummyUntil: null,
      goneReason: null,
      host: this.live.host,
    };
    this.#put(borrow);
    this.#audit(
      "codemeter-borrow-seen",
      entry.at,
      borrow,
      inWindow
        ? `CodeMeter borrow ${borrow.borrowId} first seen in the re-listing at the server start of ${isoOf(window?.start ?? entry.at)}`
        : `CodeMeter borrow ${borrow.borrowId} seen when it was borrowed`,
      { expiresAt: borrow.expiresAt === null ? null : isoOf(borrow.expiresAt), knownBy: borrow.knownBy },
    );
  }

  #seenAgain(existing: BorrowObservation, entry: BorrowEntry, relistStart: number | null): void {
    const firstSeen = Math.min(existing.firstSeen, entry.at);
    const lastSeen = Math.max(existing.lastSeen, entry.at);
    const base = {
      ...existing,
      firstSeen,
      lastSeen,
      client: existing.client ?? entry.client,
      user: existing.user ?? entry.user,
      licenseId: entry.at >= existing.lastSeen ? (entry.licenseId ?? existing.licenseId) : existing.licenseId,
    };
    const comesBack =
      (existing.status === "missing" && relistStart !== null && relistStart >= (existing.missingSince ?? 0)) ||
      (existing.status === "gone" && existing.goneReason !== "expired" && entry.at > existing.statusAt);
    if (comesBack) {
      const back: BorrowObservation = {
        ...base,
        status: "outstanding",
        statusAt: entry.at,
        missingSince: null,
        dummyUntil: null,
        goneReason: null,
      };
      this.#put(back);
      this.#audit(
        "codemeter-borrow-relisted",
        entry.at,
        back,
        `CodeMeter borrow ${back.borrowId} is listed again (at ${isoOf(entry.at)}) after it was ${existing.status === "missing" ? "missing" : "thought ended"}`,
        { previously: existing.status },
      );
      return;
    }
    if (existing.status !== "outstanding") {
      if (lastSeen !== existing.lastSeen || firstSeen !== existing.firstSeen) this.#put(base);
      return;
    }
    this.#put(base);
    if (relistStart !== null && entry.at > existing.lastSeen) {
      this.#audit(
        "codemeter-borrow-relisted",
        entry.at,
        base,
        `CodeMeter borrow ${base.borrowId} re-listed at the server start of ${isoOf(relistStart)}`,
        { start: isoOf(relistStart) },
      );
    }
  }

  // ---- time ----------------------------------------------------------------------------

  #passTime(now: number): void {
    for (const [stream, window] of this.#windows) {
      if (this.#caughtUp.has(stream) && now > window.start + this.#options.relistGraceMs) this.#closeWindow(stream);
    }
    for (const borrow of this.#borrows.values()) {
      if (borrow.status === "outstanding" && borrow.expiresAt !== null && borrow.expiresAt <= now) {
        this.#end(borrow, "expired", borrow.expiresAt);
      } else if (borrow.status === "missing" && borrow.dummyUntil !== null && borrow.dummyUntil <= now) {
        this.#end(borrow, "dummy-period-over", borrow.dummyUntil);
      } else if (borrow.status === "gone" && borrow.statusAt + this.#options.goneRetentionMs <= now) {
        this.#borrows.delete(borrow.key);
      }
    }
  }

  #end(borrow: BorrowObservation, reason: GoneReason, at: number): void {
    const gone: BorrowObservation = { ...borrow, status: "gone", statusAt: at, goneReason: reason };
    this.#put(gone);
    const why =
      reason === "expired"
        ? `its expiry ${isoOf(at)} passed`
        : reason === "replaced"
          ? "the server re-listed its slot with another expiry (it was returned and borrowed again)"
          : "the borrow period a dummy would last is over";
    this.#audit("codemeter-borrow-gone", at, gone, `CodeMeter borrow ${borrow.borrowId} ended: ${why}`, { reason });
  }

  #onClockJump(direction: "forward" | "backward", jumpMs: number, now: number): void {
    const episode = this.#facts.episode;
    if (episode.startedAt === null) return;
    const net = episode.clockNetMs + (direction === "forward" ? jumpMs : -jumpMs);
    if (Math.abs(net) < this.#options.clockThresholdMs) {
      this.#setEpisode({ clockNetMs: 0, clockSince: null });
    } else {
      this.#setEpisode({ clockNetMs: net, clockSince: episode.clockSince ?? now });
    }
  }

  /** The episode lasts while borrows are outstanding; its baselines are what the risks compare with. */
  #updateEpisode(now: number): void {
    const out = this.outstanding(now).length > 0;
    const episode = this.#facts.episode;
    if (!out) {
      if (episode.startedAt !== null) this.#setFacts({ episode: EMPTY_EPISODE });
      return;
    }
    const patch: Partial<{ -readonly [K in keyof EpisodeFacts]: EpisodeFacts[K] }> = {};
    if (episode.startedAt === null) patch.startedAt = now;
    const version = this.runtimeVersion();
    if (episode.runtimeVersion === null && version !== null) patch.runtimeVersion = version;
    const sticks = this.presentSticks();
    if (episode.sticks === null && sticks !== null) patch.sticks = sticks;
    const present = this.runtimePresent();
    if (episode.runtimePresent === null && present !== null) patch.runtimePresent = present;
    else if (episode.runtimePresent === false && present === true) patch.runtimePresent = true;
    const config = this.live.config;
    if (config?.kind === "ok") {
      if (!episode.configSeen) patch.configSeen = true;
      const withValues = BORROW_SECTIONS.filter(
        (name) => config.config.borrow[name].values > 0 && !episode.sectionsWithValues.includes(name),
      );
      if (withValues.length > 0) patch.sectionsWithValues = [...episode.sectionsWithValues, ...withValues];
    }
    if (Object.keys(patch).length > 0) this.#setEpisode(patch);
  }

  #setEpisode(patch: Partial<EpisodeFacts>): void {
    this.#setFacts({ episode: { ...this.#facts.episode, ...patch } });
  }

  #setFacts(patch: Partial<BookFacts>): void {
    this.#facts = { ...this.#facts, ...patch };
  }

  #put(borrow: BorrowObservation): void {
    this.#borrows.set(borrow.key, borrow);
    this.#changes.borrows.set(borrow.key, borrow);
  }

  #audit(
    kind: ObservationAuditKind,
    at: number,
    borrow: BorrowObservation,
    message: string,
    details: Record<string, unknown>,
  ): void {
    this.#changes.audit.push({
      kind,
      at,
      borrowId: borrow.borrowId,
      serial: borrow.serial,
      message,
      details: { source: "codemeter", borrowId: borrow.borrowId, client: borrow.client, ...details },
    });
  }
}

import type { KeyClient } from "../key/index.js";
import type { KeyInfo, LicenseUsage, SettleOutcome } from "../protocol/index.js";
import { NoKeyError } from "./errors.js";

/**
 * One keybridge key as the bridge knows it: the client while it is attached, its licenses with
 * their seat counts, and the offset of its clock from ours (K4 and expiry count in key time).
 *
 * Seat counts are kept locally: each BORROW and SETTLE answer says exactly what changed on the
 * key, so the counts follow without listing the licenses after every operation. They are listed
 * again (LIST_LICENSES) on attach, after recovery, on a license update, when an answer surprises
 * the cache (NO_BORROWABLE while a seat looked free, an unknown borrow), and when the listing is
 * older than the key manager's refresh period — the key clears dummies (K5) and dummies unsettled
 * expiries (K4) by itself, and only a listing shows that.
 */
/**
 * Where a key is in its life with the bridge: `attached` (connected, its licenses and clock read),
 * `recovered` (the ledger and the key agree again), `serving` (operations may use it), `absent`
 * (unplugged or not answering; the session keeps what was last known of it).
 */
export type KeyPhase = "attached" | "recovered" | "serving" | "absent";

export class KeySession {
  private keyClient: KeyClient | undefined;
  private keyInfo: KeyInfo;
  private devicePath: string;
  private keyPhase: KeyPhase = "absent";
  private seenAt: number;
  private usage: LicenseUsage[] = [];
  private listedAt = 0;
  private listings = 0;
  private keyTimeOffsetMs = 0;
  private refreshing: Promise<void> | undefined;
  private refreshAgain: Promise<void> | undefined;
  /** Order in which commands were queued to the key; the transport runs them first in, first out. */
  private sequence = 0;
  /** Sequence number of the listing the counts last came from: changes queued before it are in it. */
  private listedSequence = 0;
  /** Changes applied while a listing is out: a listing queued before them does not hold them. */
  private readonly unlisted: SeatChange[] = [];

  /** A session for a key seen for the first time; absent until `attach`. */
  constructor(
    readonly serial: string,
    info: KeyInfo,
    path: string,
  ) {
    this.keyInfo = info;
    this.devicePath = path;
    this.seenAt = Date.now();
    this.setKeyTime(info.keyTimeMs);
  }

  /** The client while the key is attached. */
  get client(): KeyClient | undefined {
    return this.keyClient;
  }

  /** GET_INFO of the last attach; the license-set version follows license updates. */
  get info(): KeyInfo {
    return this.keyInfo;
  }

  get path(): string {
    return this.devicePath;
  }

  get phase(): KeyPhase {
    return this.keyPhase;
  }

  /** Attached now (recovered or not). */
  get present(): boolean {
    return this.keyPhase !== "absent";
  }

  /** Present and recovered: operations may use the key. */
  get serving(): boolean {
    return this.keyPhase === "serving";
  }

  /** When the key was last attached (epoch ms). */
  get lastSeen(): number {
    return this.seenAt;
  }

  /** Seat counts per product, as last listed and followed since (see the class comment). */
  get licenses(): readonly LicenseUsage[] {
    return this.usage;
  }

  /** When the licenses were last listed from the key (epoch ms); 0 before the first listing. */
  get licensesListedAt(): number {
    return this.listedAt;
  }

  /** LIST_LICENSES sent through this session (the listing on attach is not counted). */
  get licenseListings(): number {
    return this.listings;
  }

  /**
   * The key is connected (again) through `client` on `path`, with its clock and licenses as just
   * read: present, not serving until it is recovered.
   */
  attach(
    client: KeyClient,
    path: string,
    read: { keyTimeMs: number; licenses: LicenseUsage[] },
    now: number = Date.now(),
  ): void {
    this.keyClient = client;
    this.keyInfo = client.info;
    this.devicePath = path;
    this.seenAt = now;
    this.setKeyTime(read.keyTimeMs, now);
    this.setLicenses(read.licenses);
    this.keyPhase = "attached";
  }

  /** Recovery is done (or failed and runs again at the next attach): the key may serve. */
  markRecovered(): void {
    if (this.keyPhase === "attached") this.keyPhase = "recovered";
  }

  /** Recovered, or recovery failed and the key serves all the same (it is recovered again at its next attach). */
  startServing(): void {
    if (this.keyPhase === "recovered" || this.keyPhase === "attached") this.keyPhase = "serving";
  }

  /** Unplugged or not answering: absent until it attaches again. Returns the client to close. */
  detach(): KeyClient | undefined {
    const client = this.keyClient;
    this.keyClient = undefined;
    this.keyPhase = "absent";
    return client;
  }

  /** A license update replaced the key's license set. */
  noteLicenseSetVersion(licenseSetVersion: number): void {
    this.keyInfo = { ...this.keyInfo, licenseSetVersion };
  }

  get settleWindowMs(): number {
    return this.info.settleWindowMs;
  }

  /** The key's clock now, from the offset measured at the last GET_INFO/GET_TIME. */
  keyNow(now: number = Date.now()): number {
    return now + this.keyTimeOffsetMs;
  }

  setKeyTime(keyTimeMs: number, now: number = Date.now()): void {
    this.keyTimeOffsetMs = keyTimeMs - now;
  }

  requireClient(): KeyClient {
    if (this.keyClient === undefined || !this.present)
      throw new NoKeyError(`key ${this.serial} is not attached; plug it in and try again`, {
        details: { serial: this.serial },
      });
    return this.keyClient;
  }

  /**
   * Takes a place in the key's command order. Call it right before queuing a mutating command
   * (queuing is synchronous, so nothing can slip in between) and hand it to `noteBorrowed` /
   * `noteSettled` with the answer.
   */
  nextSequence(): number {
    return ++this.sequence;
  }

  /** The licenses as listed by a command queued at `sequence` (the listing on attach: a fresh place). */
  setLicenses(licenses: LicenseUsage[], sequence: number = this.nextSequence(), now: number = Date.now()): void {
    if (sequence < this.listedSequence) return;
    this.usage = licenses;
    this.listedAt = now;
    this.listedSequence = sequence;
    // Changes queued after the listing were not in the key's answer, though some were answered first.
    for (const change of this.unlisted) if (change.sequence > sequence) this.adjust(change);
  }

  license(product: number): LicenseUsage | undefined {
    for (const license of this.usage) if (license.product === product) return license;
    return undefined;
  }

  /**
   * Whether the cached counts say the key would refuse a borrow of `product` (K1): every
   * borrowable seat out, or a dummy of the product. Unknown products count as blocked.
   */
  looksBlocked(product: number): boolean {
    const license = this.license(product);
    if (license === undefined || license.dummies > 0) return true;
    return license.borrowed + license.dummies >= license.borrowable;
  }

  /** The key answered a BORROW (fresh opId, queued at `sequence`), proven: one more active borrow of `product`. */
  noteBorrowed(product: number, sequence: number): void {
    this.apply({ sequence, product, borrowed: 1, dummies: 0 });
  }

  /** The key answered a SETTLE of an active borrow (fresh opId, queued at `sequence`) with `outcome`. */
  noteSettled(product: number, outcome: SettleOutcome, sequence: number): void {
    this.apply({ sequence, product, borrowed: -1, dummies: outcome === "dummy" ? 1 : 0 });
  }

  /**
   * Re-lists the licenses. Calls during a listing share one follow-up listing, so a storm of
   * callers costs at most two LIST_LICENSES, and every caller sees a listing begun after its call.
   */
  refreshLicenses(): Promise<void> {
    if (this.refreshing === undefined) {
      this.refreshing = this.listLicensesNow().finally(() => {
        this.refreshing = undefined;
        // A later listing is queued after every change made so far, so it holds them all.
        this.unlisted.length = 0;
      });
      return this.refreshing;
    }
    // The follow-up runs whatever the current listing's outcome; that outcome is its own caller's to handle.
    this.refreshAgain ??= this.refreshing.then(
      () => this.followUp(),
      () => this.followUp(),
    );
    return this.refreshAgain;
  }

  private followUp(): Promise<void> {
    this.refreshAgain = undefined;
    return this.refreshLicenses();
  }

  private apply(change: SeatChange): void {
    // Queued before the listing the counts came from: the key had done it when it answered that listing.
    if (change.sequence < this.listedSequence) return;
    this.adjust(change);
    if (this.refreshing !== undefined) this.unlisted.push(change);
  }

  /** Copy-on-write: a list handed out earlier (a view being built) never changes under its holder. */
  private adjust(change: SeatChange): void {
    const at = this.usage.findIndex((license) => license.product === change.product);
    if (at < 0) return;
    const current = this.usage[at] as LicenseUsage;
    const next = this.usage.slice();
    next[at] = {
      ...current,
      borrowed: Math.max(0, current.borrowed + change.borrowed),
      dummies: Math.max(0, current.dummies + change.dummies),
    };
    this.usage = next;
  }

  private async listLicensesNow(): Promise<void> {
    const client = this.keyClient;
    if (client === undefined || !this.present) return;
    const started = Date.now();
    this.listings++;
    const sequence = this.nextSequence();
    this.setLicenses(await client.listLicenses(), sequence, started);
  }
}

interface SeatChange {
  readonly sequence: number;
  readonly product: number;
  readonly borrowed: number;
  readonly dummies: number;
}

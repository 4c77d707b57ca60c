import type { KeyClient } from "../key/index.js";
import type { KeyInfo, LicenseUsage } from "../protocol/index.js";

/**
 * One keybridge key as the bridge knows it: the client while it is attached, its licenses as
 * last listed, and the offset of its clock from ours (K4 and expiry count in key time).
 */
export class KeySession {
  client: KeyClient | undefined;
  path: string;
  present = false;
  /** Present and recovered: operations may use the key. */
  serving = false;
  licenses: LicenseUsage[] = [];
  keyTimeOffsetMs = 0;
  lastSeen: number;
  private refreshing: Promise<void> | undefined;
  private refreshAgain: Promise<void> | undefined;

  constructor(
    readonly serial: string,
    public info: KeyInfo,
    path: string,
    client: KeyClient,
  ) {
    this.path = path;
    this.client = client;
    this.lastSeen = Date.now();
    this.setKeyTime(info.keyTimeMs);
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
    if (this.client === undefined || !this.present) throw new Error(`key ${this.serial} is not attached`);
    return this.client;
  }

  /**
   * Re-lists the licenses. Calls during a listing share one follow-up listing, so a storm of
   * borrows costs at most two LIST_LICENSES, and every caller sees a listing begun after its call.
   */
  refreshLicenses(): Promise<void> {
    if (this.refreshing === undefined) {
      this.refreshing = this.listLicensesNow().finally(() => {
        this.refreshing = undefined;
      });
      return this.refreshing;
    }
    this.refreshAgain ??= this.refreshing
      .catch(() => undefined)
      .then(() => {
        this.refreshAgain = undefined;
        return this.refreshLicenses();
      });
    return this.refreshAgain;
  }

  private async listLicensesNow(): Promise<void> {
    const client = this.client;
    if (client === undefined || !this.present) return;
    this.licenses = await client.listLicenses();
  }
}

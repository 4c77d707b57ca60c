import type { PinStore } from "../key/pin-store.js";
import type { Ledger } from "../ledger/index.js";

/** Pins public keys in the ledger (rule K9), so a counterfeit is recognised across restarts. */
export class LedgerPinStore implements PinStore {
  constructor(
    private readonly ledger: Ledger,
    private readonly now: () => number = Date.now,
  ) {}

  get(serial: string): Uint8Array | undefined {
    const row = this.ledger.getPinnedKey(serial);
    return row === undefined ? undefined : Uint8Array.from(Buffer.from(row.publicKey, "hex"));
  }

  pin(serial: string, publicKey: Uint8Array): void {
    this.ledger.pinKey(serial, Buffer.from(publicKey).toString("hex"), this.now());
  }
}

/**
 * Where the public key of each serial is pinned at first sight (rule K9). The ledger provides
 * the durable implementation; sync and async implementations are both accepted.
 */
export interface PinStore {
  get(serial: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  pin(serial: string, publicKey: Uint8Array): void | Promise<void>;
}

export class MemoryPinStore implements PinStore {
  private readonly pins = new Map<string, Uint8Array>();

  get(serial: string): Uint8Array | undefined {
    const key = this.pins.get(serial);
    return key === undefined ? undefined : Uint8Array.from(key);
  }

  pin(serial: string, publicKey: Uint8Array): void {
    this.pins.set(serial, Uint8Array.from(publicKey));
  }
}

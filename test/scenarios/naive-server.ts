import { createHash, randomBytes } from "node:crypto";
import type { VirtualBus } from "../../native-mocks/index.js";
import { createNodeHidStandIn, createUsbStandIn } from "../../native-mocks/index.js";
import { connectKey, type KeyClient, type LicenseUpdateSigner, MemoryPinStore } from "../../src/key/index.js";
import type { License } from "../../src/protocol/index.js";
import { listKeys, openHidPort, Transport, virtualHidBackend } from "../../src/transport/index.js";

/** What the naive server stores per borrow: only in its OS registry, nowhere else. */
interface RegistryEntry {
  id: number;
  product: number;
  client: string;
  expiresAt: number;
  tag: Buffer;
}

export interface NaiveHost {
  ip: string;
  hostname: string;
  machineId: string;
}

/**
 * A license server as vendors describe theirs: a borrow is recorded in the key and
 * in the server's registry and nowhere else. The tag is random and lives only in the registry;
 * return and expiry settle with the host binding of NOW and whatever tag the registry still has
 * (zeros when the entry is gone). No ledger, no guard, no migration: losing the registry or
 * changing the identity simply happens to it.
 */
export class NaiveServer {
  private readonly registry = new Map<number, RegistryEntry>();
  private readonly pins = new MemoryPinStore();
  private readonly backend;
  private client: KeyClient | undefined;
  /** Host clock minus key clock: a clock jump moves it; expiry is judged by the host clock. */
  hostClockOffsetMs = 0;

  constructor(
    bus: VirtualBus,
    private readonly serial: string,
    public host: NaiveHost,
    /** The key's vendor, who signs the updates the naive server applies as they come. */
    private readonly licenseSigner: LicenseUpdateSigner,
  ) {
    this.backend = virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
  }

  get binding(): Buffer {
    return createHash("sha256").update(`${this.host.ip}|${this.host.hostname}|${this.host.machineId}`).digest();
  }

  /** Borrows with a random tag kept only in the registry. */
  async borrow(product: number, client: string): Promise<number> {
    const tag = randomBytes(16);
    const record = await this.withKey((key) =>
      key.borrow({
        opId: randomBytes(16),
        product,
        days: 30,
        binding: this.binding,
        tag,
        client,
      }),
    );
    this.registry.set(record.id, { id: record.id, product, client, expiresAt: record.expiresAt, tag });
    return record.id;
  }

  /** A borrow that reached the key, but the service stopped before writing the registry. */
  async borrowThenDie(product: number, client: string): Promise<void> {
    await this.withKey((key) =>
      key.borrow({ opId: randomBytes(16), product, days: 30, binding: this.binding, tag: randomBytes(16), client }),
    );
  }

  /** Early return: SETTLE with the current binding and the registry's tag (zeros if the entry is lost). */
  async returnBorrow(id: number): Promise<"returned" | "dummy" | "failed"> {
    const entry = this.registry.get(id);
    try {
      const result = await (await this.key()).settle({
        opId: randomBytes(16),
        id,
        binding: this.binding,
        tag: entry?.tag ?? Buffer.alloc(16),
      });
      this.registry.delete(id);
      return result.outcome === "settled" ? "returned" : "dummy";
    } catch {
      this.dropClient();
      return "failed";
    }
  }

  /** Settles what the registry says has expired, by the host clock. Borrows it lost track of are left to the key (K4). */
  async sweep(keyTimeMs: number): Promise<void> {
    const hostNow = keyTimeMs + this.hostClockOffsetMs;
    for (const entry of Array.from(this.registry.values())) {
      if (entry.expiresAt > hostNow) continue;
      try {
        await (await this.key()).settle({ opId: randomBytes(16), id: entry.id, binding: this.binding, tag: entry.tag });
        this.registry.delete(entry.id);
      } catch {
        this.dropClient();
        return;
      }
    }
  }

  /** LICENSE_UPDATE straight to the key: nothing stops it (K6). */
  async licenseUpdate(licenses: readonly License[]): Promise<number> {
    const result = await this.withKey((key) => key.licenseUpdate({ opId: randomBytes(16), licenses }));
    return result.dummiesCreated;
  }

  /** Tries a borrow and reports whether the key refused it. */
  async tryBorrow(product: number, client: string): Promise<"borrowed" | "refused"> {
    try {
      await this.borrow(product, client);
      return "borrowed";
    } catch {
      return "refused";
    }
  }

  /** Driver uninstalled, OS reinstalled, new major version: the registry is gone. */
  wipeRegistry(): void {
    this.registry.clear();
  }

  registrySize(): number {
    return this.registry.size;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.transport.close().catch(() => undefined);
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    void client?.transport.close().catch(() => undefined);
  }

  private async withKey<T>(work: (key: KeyClient) => Promise<T>): Promise<T> {
    try {
      return await work(await this.key());
    } catch (error) {
      this.dropClient();
      throw error;
    }
  }

  private async key(): Promise<KeyClient> {
    if (this.client !== undefined) return this.client;
    const device = (await listKeys(this.backend)).find((candidate) => candidate.serial === this.serial);
    if (device === undefined) throw new Error(`key ${this.serial} is not plugged in`);
    const transport = await Transport.open(await openHidPort(this.backend, device), { timeoutMs: 2000 });
    this.client = await connectKey(transport, this.pins, { licenseSigner: this.licenseSigner });
    return this.client;
  }
}

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createDemoKey,
  createNodeHidStandIn,
  createUsbStandIn,
  DEMO_LICENSES,
  DEMO_PRODUCT_NAMES,
  MAX_CLOCK_OFFSET_MS,
  VirtualBus,
  type VirtualKey,
} from "../../native-mocks/index.js";
import { SIMULATED_HOST_FILE, SimulatedHostProbe } from "../host/index.js";
import type { LicenseUpdateSigner } from "../key/index.js";
import { layerLogger } from "../log.js";
import {
  generateVendorKeyPair,
  signLicenseUpdate,
  type VendorKeyPair,
  vendorPublicKeyToText,
  vendorSecretFromPem,
  vendorSecretToPem,
} from "../protocol/index.js";
import { type HidBackend, virtualHidBackend } from "../transport/index.js";
import { DAY_MS } from "../vocabulary/index.js";
import type { LicenseInput, VirtualKeyView } from "./api.js";
import {
  InvalidRequestError,
  KeyNotFoundError,
  VirtualStateUnreadableError,
  VirtualStateUnwritableError,
} from "./errors.js";

const log = layerLogger("bridge");

const KEY_FILE_SUFFIX = ".key.json";
/** One clock move: ten years, more than any borrow period and settle window a scenario needs. */
export const MAX_CLOCK_ADVANCE_MS = 3650 * DAY_MS;
/** Which virtual keys are unplugged: bus state, not key state, so not in the keys' own files. */
const UNPLUGGED_FILE = "unplugged.json";
/**
 * The demo vendor of this data directory: a vendor secret in the same PEM format `keybridge
 * vendor keygen` writes (so `keybridge vendor sign --key` takes it), generated on first use, 0600.
 */
export const DEMO_VENDOR_SECRET_FILE = "demo-vendor.key";
export const DEMO_VENDOR_PUBLIC_FILE = "demo-vendor.pub";

/**
 * Virtual mode's world: a virtual USB bus whose keys live in `<dataDir>/virtual/<serial>.key.json`
 * (the first start creates the demo key, later starts reload every key), reached through the
 * node-hid and usb stand-ins so the real transport path runs unchanged, and a simulated host
 * kept in the data directory. A key unplugged stays unplugged across restarts, as a real one would,
 * so "restart the service while the key is out" can be played.
 *
 * Keys take only license updates signed by their vendor. Every virtual key is provisioned with
 * the data directory's demo vendor key, and `licenseSigner` signs a bare license set on that
 * vendor's behalf, so virtual mode's license updates work without a vendor at hand.
 */
export class VirtualWorld {
  readonly bus: VirtualBus;
  readonly backend: HidBackend;
  /** Signs bare license sets as the demo vendor (KeyClientOptions.licenseSigner). */
  readonly licenseSigner: LicenseUpdateSigner;
  private readonly dir: string;
  private readonly vendor: VendorKeyPair;

  private constructor(
    dataDir: string,
    readonly host: SimulatedHostProbe,
    private readonly latencyMs: number,
  ) {
    this.dir = join(dataDir, "virtual");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.vendor = loadOrCreateDemoVendor(this.dir);
    const vendor = this.vendor;
    this.licenseSigner = { sign: (update) => signLicenseUpdate(vendor.secret, update) };
    this.bus = new VirtualBus();
    this.backend = virtualHidBackend(createNodeHidStandIn(this.bus), createUsbStandIn(this.bus));
    const files = readdirSync(this.dir).filter((name) => name.endsWith(KEY_FILE_SUFFIX));
    if (files.length === 0) {
      createDemoKey({
        bus: this.bus,
        stateFile: this.keyFile("KB-DEMO-0001"),
        latencyMs,
        vendorPublicKey: vendor.publicKey,
      });
    } else {
      const unplugged = this.readUnplugged();
      for (const file of files.sort()) {
        const serial = file.slice(0, -KEY_FILE_SUFFIX.length);
        const stateFile = join(this.dir, file);
        let key: ReturnType<VirtualBus["createKey"]>;
        try {
          key = this.bus.createKey({ serial, stateFile, latencyMs, plugged: !unplugged.has(serial) });
        } catch (error) {
          // One unreadable key (damaged file, a clock offset out of range saved by an older version)
          // must not keep the daemon and the other keys down: it stays off the bus, as if unplugged.
          log.error(
            `virtual key ${serial} cannot be loaded and stays unplugged: ${errorText(error)}. Its file is kept as ` +
              "it is; move it away to start the key afresh (its borrows go with it), or restore it from a backup",
            { serial, file: stateFile },
          );
          continue;
        }
        // A key saved before keys were provisioned: the world is its factory, so it provisions it now.
        if (key.state.vendorPublicKey === undefined) {
          key.provision(vendor.publicKey);
          log.info("provisioned a virtual key with the demo vendor key", { serial });
        }
      }
    }
  }

  /** Raw public key of the demo vendor every virtual key is provisioned with. */
  get vendorPublicKey(): Uint8Array {
    return Uint8Array.from(this.vendor.publicKey);
  }

  /** Plugs a key in and remembers it; the record is written first, so a failed write changes nothing. */
  plug(serial: string): void {
    this.key(serial);
    this.writeUnplugged(this.unpluggedSerials().filter((other) => other !== serial));
    this.bus.plug(serial);
  }

  unplug(serial: string): void {
    this.key(serial);
    this.writeUnplugged([...new Set([...this.unpluggedSerials(), serial])]);
    this.bus.unplug(serial);
  }

  private unpluggedSerials(): string[] {
    return this.bus
      .keys()
      .filter((key) => !key.plugged)
      .map((key) => key.serial);
  }

  private readUnplugged(): Set<string> {
    const file = join(this.dir, UNPLUGGED_FILE);
    if (!existsSync(file)) return new Set();
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
      if (Array.isArray(parsed) && parsed.every((serial) => typeof serial === "string")) return new Set(parsed);
      throw new Error("not a list of serials");
    } catch (error) {
      // Demo state only: starting with every key plugged in is the safe reading, and it is said.
      log.warn("the record of unplugged virtual keys is unreadable; every virtual key starts plugged in", {
        file,
        error: String(error),
      });
      return new Set();
    }
  }

  private writeUnplugged(serials: string[]): void {
    const file = join(this.dir, UNPLUGGED_FILE);
    const temporary = `${file}.tmp`;
    try {
      if (serials.length === 0) {
        rmSync(file, { force: true });
        return;
      }
      writeFileSync(temporary, `${JSON.stringify(serials.sort())}\n`, { mode: 0o600 });
      renameSync(temporary, file);
    } catch (error) {
      throw new VirtualStateUnwritableError(file, error);
    }
  }

  static async open(dataDir: string, latencyMs: number): Promise<VirtualWorld> {
    const host = await SimulatedHostProbe.open({ statePath: join(dataDir, SIMULATED_HOST_FILE) });
    return new VirtualWorld(dataDir, host, latencyMs);
  }

  /**
   * Moves every virtual key's clock forward by `ms`. Checked whole before any key moves: a finite
   * number from 0 to 3650 days, and no key's clock more than 100 years from real time afterwards
   * (what a key saves must load again). Refused with VALIDATION on `advance`.
   */
  advanceClocks(ms: number): void {
    const days = (value: number) => `${Math.round(value / DAY_MS)}d`;
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_CLOCK_ADVANCE_MS) {
      throw new InvalidRequestError(
        "advance",
        `advance must be a duration from 0 to ${days(MAX_CLOCK_ADVANCE_MS)} (${MAX_CLOCK_ADVANCE_MS} ms); got ${ms} ms`,
      );
    }
    const step = Math.round(ms);
    for (const key of this.bus.keys()) {
      if (key.clockOffsetMs + step > MAX_CLOCK_OFFSET_MS) {
        throw new InvalidRequestError(
          "advance",
          `virtual key ${key.serial}'s clock is already ${days(key.clockOffsetMs)} ahead of real time; ` +
            `it may be at most ${days(MAX_CLOCK_OFFSET_MS)} ahead, so it can move ${days(MAX_CLOCK_OFFSET_MS - key.clockOffsetMs)} more`,
        );
      }
    }
    for (const key of this.bus.keys()) key.advanceClock(step);
  }

  productName(product: number): string | undefined {
    return DEMO_PRODUCT_NAMES[product];
  }

  keyViews(): VirtualKeyView[] {
    return this.bus.keys().map(viewOf);
  }

  key(serial: string): VirtualKey {
    const key = this.bus.keys().find((candidate) => candidate.serial === serial);
    if (key === undefined) throw new KeyNotFoundError(serial);
    return key;
  }

  create(input: { serial?: string; licenses?: LicenseInput[] }): VirtualKeyView {
    const serial = input.serial ?? this.nextSerial();
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(serial)) {
      throw new InvalidRequestError("serial", "serial must be 1-32 letters, digits, '.', '_' or '-'");
    }
    if (this.bus.keys().some((key) => key.serial === serial) || existsSync(this.keyFile(serial))) {
      throw new InvalidRequestError("serial", `a virtual key with serial ${serial} already exists`);
    }
    const key = this.bus.createKey({
      serial,
      licenses: input.licenses ?? DEMO_LICENSES,
      stateFile: this.keyFile(serial),
      latencyMs: this.latencyMs,
      vendorPublicKey: this.vendor.publicKey,
    });
    return viewOf(key);
  }

  close(): void {
    this.bus.close();
  }

  private keyFile(serial: string): string {
    return join(this.dir, `${serial}${KEY_FILE_SUFFIX}`);
  }

  private nextSerial(): string {
    const taken = new Set(this.bus.keys().map((key) => key.serial));
    for (let n = 2; ; n++) {
      const serial = `KB-VIRT-${String(n).padStart(4, "0")}`;
      if (!taken.has(serial)) return serial;
    }
  }
}

/**
 * The data directory's demo vendor: read from its PEM file, or generated and written (0600, then
 * the public key beside it) on first use. A file that exists but does not read is an error, never
 * replaced: the keys of this directory are provisioned with the key it held.
 */
function loadOrCreateDemoVendor(dir: string): VendorKeyPair {
  const file = join(dir, DEMO_VENDOR_SECRET_FILE);
  if (existsSync(file)) {
    try {
      return vendorSecretFromPem(readFileSync(file, "utf8"));
    } catch (error) {
      throw new VirtualStateUnreadableError(file, error);
    }
  }
  const vendor = generateVendorKeyPair();
  const temporary = `${file}.tmp`;
  try {
    writeFileSync(temporary, vendorSecretToPem(vendor.secret), { mode: 0o600 });
    renameSync(temporary, file);
    writeFileSync(join(dir, DEMO_VENDOR_PUBLIC_FILE), vendorPublicKeyToText(vendor.publicKey), { mode: 0o644 });
  } catch (error) {
    throw new VirtualStateUnwritableError(file, error);
  }
  log.info("generated the demo vendor key of this data directory", { file });
  return vendor;
}

function viewOf(key: VirtualKey): VirtualKeyView {
  const state = key.state;
  return {
    serial: key.serial,
    plugged: key.plugged,
    keyTime: new Date(state.keyTimeMs).toISOString(),
    licenses: state.licenses.map(({ product, seats, borrowable, borrowDays }) => ({
      product,
      seats,
      borrowable,
      borrowDays,
    })),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

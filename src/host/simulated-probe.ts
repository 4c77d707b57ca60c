import { randomBytes } from "node:crypto";
import { SerialQueue } from "../serial-queue.js";
import { canonicalIp } from "./addresses.js";
import { HostStateCorruptError, InvalidHostValueError } from "./errors.js";
import { type DriverVersions, type HostIdentity, normalizeIps } from "./identity.js";
import type { HostProbe } from "./probe.js";
import { readJsonState, writeJsonState } from "./state-file.js";

/** The file name the daemon uses for the simulated host inside its data directory. */
export const SIMULATED_HOST_FILE = "virtual-host.json";

export type DriverComponent = keyof DriverVersions;

export interface SimulatedHostOptions {
  /** Where the simulated host is kept across restarts; in memory only when omitted. */
  statePath?: string;
  /** Overrides the defaults of a newly created host (ignored when statePath already holds one). */
  initial?: Partial<HostIdentity>;
}

const STATE_VERSION = 1;

/**
 * A host whose identity the operator changes on purpose (virtual mode, tests, scenarios), to
 * rehearse the forbidden actions: change IP or hostname, reinstall the OS, remove the driver.
 * Registry loss on reinstall is simulated by the registry layer, not here.
 */
export class SimulatedHostProbe implements HostProbe {
  #identity: HostIdentity;
  readonly #statePath: string | undefined;
  readonly #updates = new SerialQueue();

  private constructor(identity: HostIdentity, statePath: string | undefined) {
    this.#identity = identity;
    this.#statePath = statePath;
  }

  /** Loads the simulated host from statePath, or creates (and saves) a fresh one. */
  static async open(options: SimulatedHostOptions = {}): Promise<SimulatedHostProbe> {
    const { statePath } = options;
    if (statePath !== undefined) {
      const stored = await readJsonState(statePath);
      if (stored !== undefined) return new SimulatedHostProbe(parseStoredIdentity(statePath, stored), statePath);
    }
    const probe = new SimulatedHostProbe({ ...defaultSimulatedIdentity(), ...options.initial }, statePath);
    await probe.#save();
    return probe;
  }

  async probe(): Promise<HostIdentity> {
    return this.snapshot();
  }

  /** The current identity, as a copy the caller may keep. */
  snapshot(): HostIdentity {
    return structuredClone(this.#identity);
  }

  async setIp(...ips: string[]): Promise<void> {
    const canonical = ips.map((ip) => {
      const value = canonicalIp(ip);
      if (value === undefined) throw new InvalidHostValueError("ip", ip, "not an IPv4 or IPv6 address");
      return value;
    });
    await this.#update(() => ({ ips: normalizeIps(canonical) }));
  }

  async setHostname(hostname: string): Promise<void> {
    // RFC 1123 host names: labels of letters, digits and hyphens, at most 253 characters.
    if (
      !/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(hostname)
    ) {
      throw new InvalidHostValueError("hostname", hostname, "not an RFC 1123 host name");
    }
    await this.#update(() => ({ hostname }));
  }

  async setMachineId(machineId: string): Promise<void> {
    if (!/^[\w-]{1,128}$/.test(machineId)) {
      throw new InvalidHostValueError("machineId", machineId, "expected 1-128 letters, digits, '-' or '_'");
    }
    await this.#update(() => ({ machineId }));
  }

  /** A fresh OS: new machine id and install id; IPs, hostname and driver stay as configured. */
  async reinstallOs(): Promise<void> {
    await this.#update(() => ({ machineId: randomHex(16), osInstallId: randomHex(16) }));
  }

  /** Removes one driver component, or all of them when none is named. */
  async uninstallDriver(component?: DriverComponent): Promise<void> {
    await this.#update((current) => {
      const driver: DriverVersions = component === undefined ? {} : { ...current.driver };
      if (component !== undefined) delete driver[component];
      return { driver };
    });
  }

  /** Installs (or upgrades) a driver component; the CodeMeter runtime unless another is named. */
  async installDriver(version: string, component: DriverComponent = "codeMeterRuntime"): Promise<void> {
    if (!/^[\w.+-]{1,64}$/.test(version)) {
      throw new InvalidHostValueError("version", version, "expected a version like 8.20a or 3.4.0");
    }
    await this.#update((current) => ({ driver: { ...current.driver, [component]: version } }));
  }

  /** Changes are applied one at a time, so concurrent callers cannot reorder writes to the file. */
  #update(change: (current: HostIdentity) => Partial<HostIdentity>): Promise<void> {
    return this.#updates.run(async () => {
      const previous = this.#identity;
      this.#identity = { ...previous, ...change(previous) };
      try {
        await this.#save();
      } catch (error) {
        // Keep memory and file in step: a change that could not be persisted did not happen.
        this.#identity = previous;
        throw error;
      }
    });
  }

  async #save(): Promise<void> {
    if (this.#statePath === undefined) return;
    await writeJsonState(this.#statePath, { version: STATE_VERSION, identity: this.#identity });
  }
}

export function defaultSimulatedIdentity(): HostIdentity {
  return {
    ips: ["192.0.2.10"],
    hostname: "keybridge-virtual",
    machineId: randomHex(16),
    osInstallId: randomHex(16),
    driver: { nodeHid: "3.0.0-virtual", usb: "2.0.0-virtual", codeMeterRuntime: "8.20-virtual" },
    runtime: { node: process.versions.node, platform: process.platform, arch: process.arch, osRelease: "virtual" },
  };
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

function parseStoredIdentity(path: string, stored: unknown): HostIdentity {
  const state = stored as { version?: unknown; identity?: Partial<HostIdentity> } | null;
  const identity = state?.identity;
  if (state?.version !== STATE_VERSION || typeof identity !== "object" || identity === null) {
    throw new HostStateCorruptError(path, `expected {"version": ${STATE_VERSION}, "identity": {...}}`);
  }
  const valid =
    Array.isArray(identity.ips) &&
    identity.ips.every((ip) => typeof ip === "string") &&
    typeof identity.hostname === "string" &&
    typeof identity.machineId === "string" &&
    typeof identity.osInstallId === "string" &&
    isStringRecord(identity.driver) &&
    typeof identity.runtime === "object" &&
    identity.runtime !== null;
  if (!valid) throw new HostStateCorruptError(path, "identity fields missing or of the wrong type");
  return identity as HostIdentity;
}

function isStringRecord(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    Object.values(value).every((entry) => entry === undefined || typeof entry === "string")
  );
}

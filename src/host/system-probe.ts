import { readFile } from "node:fs/promises";
import os, { type NetworkInterfaceInfo } from "node:os";
import { layerLogger } from "../log.js";
import { parseTemporaryIpv6, selectHostIps } from "./addresses.js";
import { type CommandRunner, runCommand } from "./command.js";
import { codeMeterRuntimeVersion, packageVersion } from "./drivers.js";
import type { DriverVersions, HostIdentity } from "./identity.js";
import { readMachineId } from "./machine-id.js";
import { readOsInstallId } from "./os-install.js";
import type { HostProbe } from "./probe.js";

const log = layerLogger("host");

export interface SystemHostProbeOptions {
  platform?: NodeJS.Platform;
  /** Upper bound for every external command (ioreg, reg, dpkg-query, ...). Default 3 s. */
  commandTimeoutMs?: number;
  /**
   * Facts that need an external command (CodeMeter version; machine id on macOS and Windows) are
   * reused this long, so a 5 s poll does not spawn processes every time. Default 60 s.
   */
  slowFactsTtlMs?: number;
  /** Interface names to leave out of `ips`; defaults to container bridges and VPN tunnels. */
  excludeInterface?: RegExp;
  /** Overrides the machine id files read on Linux (tests). */
  machineIdPaths?: readonly string[];
  run?: CommandRunner;
  networkInterfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  hostname?: () => string;
  now?: () => number;
}

/** Reads the identity of the machine keybridge runs on. */
export class SystemHostProbe implements HostProbe {
  readonly #platform: NodeJS.Platform;
  readonly #options: SystemHostProbeOptions;
  readonly #commandTimeoutMs: number;
  readonly #run: CommandRunner;
  readonly #cachedMachineFacts: Cached<{ machineId: string; osInstallId: string }>;
  readonly #cachedCodeMeter: Cached<string | undefined>;

  constructor(options: SystemHostProbeOptions = {}) {
    this.#options = options;
    this.#platform = options.platform ?? process.platform;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 3000;
    this.#run = options.run ?? runCommand;
    const ttl = options.slowFactsTtlMs ?? 60_000;
    const now = options.now ?? Date.now;
    const sources = { platform: this.#platform, run: this.#run, commandTimeoutMs: this.#commandTimeoutMs };
    // Linux reads two small files, so there is nothing to gain by caching them.
    const machineTtl = this.#platform === "linux" ? 0 : ttl;
    this.#cachedMachineFacts = cached(machineTtl, now, async () => {
      const machineId = await readMachineId({ ...sources, machineIdPaths: options.machineIdPaths });
      return { machineId, osInstallId: await readOsInstallId(machineId, sources) };
    });
    this.#cachedCodeMeter = cached(ttl, now, () => codeMeterRuntimeVersion(sources));
  }

  async probe(): Promise<HostIdentity> {
    const [machine, ips, driver] = await Promise.all([this.#cachedMachineFacts(), this.#ips(), this.#driver()]);
    return {
      ips,
      hostname: (this.#options.hostname ?? os.hostname)(),
      machineId: machine.machineId,
      osInstallId: machine.osInstallId,
      driver,
      runtime: { node: process.versions.node, platform: this.#platform, arch: process.arch, osRelease: os.release() },
    };
  }

  async #ips(): Promise<string[]> {
    const interfaces = (this.#options.networkInterfaces ?? os.networkInterfaces)();
    let temporaryIpv6: Set<string> | undefined;
    if (this.#platform === "linux" && this.#options.networkInterfaces === undefined) {
      try {
        temporaryIpv6 = parseTemporaryIpv6(await readFile("/proc/net/if_inet6", "utf8"));
      } catch (error) {
        log.debug("cannot read IPv6 address flags", { error: (error as Error).message });
      }
    }
    return selectHostIps(interfaces, { excludeInterface: this.#options.excludeInterface, temporaryIpv6 });
  }

  async #driver(): Promise<DriverVersions> {
    const [nodeHid, usb, codeMeterRuntime] = await Promise.all([
      packageVersion("node-hid"),
      packageVersion("usb"),
      this.#cachedCodeMeter(),
    ]);
    return { nodeHid, usb, codeMeterRuntime };
  }
}

type Cached<T> = () => Promise<T>;

/** Reuses a successful result for ttlMs; failures are not cached, so the next probe retries. */
function cached<T>(ttlMs: number, now: () => number, compute: () => Promise<T>): Cached<T> {
  let entry: { value: Promise<T>; at: number } | undefined;
  return () => {
    if (entry !== undefined && now() - entry.at < ttlMs) return entry.value;
    const value = compute();
    const current = { value, at: now() };
    entry = current;
    // The caller gets the failure through `value`; this branch only drops it from the cache.
    value.catch(() => {
      if (entry === current) entry = undefined;
    });
    return value;
  };
}

import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";

/** Versions of the software between keybridge and the key; absent means not installed. */
export interface DriverVersions {
  nodeHid?: string;
  usb?: string;
  codeMeterRuntime?: string;
}

export interface RuntimeInfo {
  node: string;
  platform: NodeJS.Platform;
  arch: string;
  osRelease: string;
}

/** What the license server looks like to a key: the inputs of the borrow binding and of the risk watchers. */
export interface HostIdentity {
  /** Sorted, unique, non-internal unicast addresses of physical-looking interfaces. */
  ips: string[];
  hostname: string;
  machineId: string;
  /** Changes when the operating system is reinstalled, even on the same hardware. */
  osInstallId: string;
  driver: DriverVersions;
  runtime: RuntimeInfo;
}

export type HostComponent = keyof HostIdentity;

export const HOST_COMPONENTS: readonly HostComponent[] = [
  "ips",
  "hostname",
  "machineId",
  "osInstallId",
  "driver",
  "runtime",
];

/**
 * The components a borrow is bound to unless `bindingComponents` says otherwise: the IP addresses,
 * hostname and machine id, whose change makes license servers settle borrows into dummies.
 */
export const DEFAULT_BINDING_COMPONENTS: readonly HostComponent[] = ["ips", "hostname", "machineId"];

export interface HostChange {
  component: HostComponent;
  before: unknown;
  after: unknown;
}

/**
 * SHA-256 over the canonical JSON of the chosen components. IPs are sorted and de-duplicated
 * first, so the order in which the OS lists interfaces never changes a binding.
 */
export function computeBinding(
  identity: HostIdentity,
  components: readonly HostComponent[] = DEFAULT_BINDING_COMPONENTS,
): Uint8Array {
  const selected: Record<string, unknown> = {};
  for (const component of components) {
    selected[component] = component === "ips" ? normalizeIps(identity.ips) : identity[component];
  }
  return new Uint8Array(createHash("sha256").update(canonicalJson(selected), "utf8").digest());
}

export function bindingHex(binding: Uint8Array): string {
  return Buffer.from(binding).toString("hex");
}

/** One entry per component that differs; IPs are compared as sets, driver and runtime field by field. */
export function diffIdentity(before: HostIdentity, after: HostIdentity): HostChange[] {
  const changes: HostChange[] = [];
  for (const component of HOST_COMPONENTS) {
    const a = component === "ips" ? normalizeIps(before.ips) : before[component];
    const b = component === "ips" ? normalizeIps(after.ips) : after[component];
    if (canonicalJson(a) !== canonicalJson(b)) {
      changes.push({ component, before: before[component], after: after[component] });
    }
  }
  return changes;
}

export function normalizeIps(ips: readonly string[]): string[] {
  return [...new Set(ips)].sort();
}

/** Whether two identities give the same binding for the given components. */
export function sameBinding(
  a: HostIdentity,
  b: HostIdentity,
  components: readonly HostComponent[] = DEFAULT_BINDING_COMPONENTS,
): boolean {
  return Buffer.from(computeBinding(a, components)).equals(computeBinding(b, components));
}

import { isIP } from "node:net";
import type { NetworkInterfaceInfo } from "node:os";

/**
 * Interfaces whose addresses say nothing about where the server is on the network: container
 * and VM bridges, and VPN tunnels whose addresses change per connection. A borrow bound to them
 * would break whenever Docker or a VPN client restarts.
 */
export const DEFAULT_VIRTUAL_INTERFACE_PATTERN =
  /^(docker|br-|veth|virbr|vnet|vmnet|vboxnet|cni|flannel|cali|cilium|weave|podman|lxcbr|lxdbr|kube|tun|tap|wg|tailscale|zt|utun|awdl|llw|vEthernet \((WSL|Default Switch))/i;

export interface IpSelectionOptions {
  /** Interface names to leave out; defaults to DEFAULT_VIRTUAL_INTERFACE_PATTERN. */
  excludeInterface?: RegExp;
  /** Canonical IPv6 addresses the OS marks temporary (privacy extensions): they rotate daily. */
  temporaryIpv6?: ReadonlySet<string>;
}

/** Returns the canonical form (lower case, shortest IPv6) of an IP address, or undefined when it is not one. */
export function canonicalIp(address: string): string | undefined {
  const withoutZone = address.split("%")[0] ?? "";
  const family = isIP(withoutZone);
  if (family === 0) return undefined;
  const host = new URL(family === 6 ? `http://[${withoutZone}]` : `http://${withoutZone}`).hostname;
  return family === 6 ? host.slice(1, -1) : host;
}

/** The unicast, non-internal, non-link-local addresses of physical-looking interfaces, sorted and unique. */
export function selectHostIps(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
  options: IpSelectionOptions = {},
): string[] {
  const exclude = options.excludeInterface ?? DEFAULT_VIRTUAL_INTERFACE_PATTERN;
  const selected = new Set<string>();
  for (const [name, infos] of Object.entries(interfaces)) {
    if (infos === undefined || exclude.test(name)) continue;
    for (const info of infos) {
      if (info.internal) continue;
      const address = canonicalIp(info.address);
      if (address === undefined || !isStableUnicast(address)) continue;
      if (options.temporaryIpv6?.has(address)) continue;
      selected.add(address);
    }
  }
  return [...selected].sort();
}

function isStableUnicast(address: string): boolean {
  if (isIP(address) === 4) {
    const [first = 0, second = 0] = address.split(".").map(Number);
    if (first === 127 || first === 0 || first >= 224) return false; // loopback, "this network", multicast/reserved
    return !(first === 169 && second === 254); // link-local (APIPA), assigned when DHCP fails
  }
  const firstGroup = Number.parseInt(address.split(":")[0] || "0", 16);
  if ((firstGroup & 0xffc0) === 0xfe80) return false; // link-local fe80::/10
  if ((firstGroup & 0xff00) === 0xff00) return false; // multicast
  return address !== "::" && address !== "::1";
}

const IFA_F_TEMPORARY = 0x01;

/** Parses Linux `/proc/net/if_inet6` and returns the addresses flagged temporary. */
export function parseTemporaryIpv6(procIfInet6: string): Set<string> {
  const temporary = new Set<string>();
  for (const line of procIfInet6.split("\n")) {
    const [hex, , , , flags] = line.trim().split(/\s+/);
    if (hex === undefined || flags === undefined || !/^[0-9a-f]{32}$/i.test(hex)) continue;
    if ((Number.parseInt(flags, 16) & IFA_F_TEMPORARY) === 0) continue;
    const address = canonicalIp(hex.match(/.{4}/g)?.join(":") ?? "");
    if (address !== undefined) temporary.add(address);
  }
  return temporary;
}

import type { NetworkInterfaceInfo } from "node:os";
import { describe, expect, it } from "vitest";
import { parseTemporaryIpv6 } from "../../../src/host/addresses.js";
import { canonicalIp, selectHostIps } from "../../../src/host/index.js";

function info(address: string, internal = false): NetworkInterfaceInfo {
  const family = address.includes(":") ? "IPv6" : "IPv4";
  return family === "IPv6"
    ? { address, netmask: "ffff:ffff:ffff:ffff::", family, mac: "02:00:00:00:00:01", internal, cidr: null, scopeid: 0 }
    : { address, netmask: "255.255.255.0", family, mac: "02:00:00:00:00:01", internal, cidr: null };
}

describe("selectHostIps", () => {
  it("keeps routable addresses of physical interfaces, sorted, and drops everything unstable", () => {
    const ips = selectHostIps({
      lo: [info("127.0.0.1", true), info("::1", true)],
      eth0: [info("192.0.2.2"), info("FD00::0002"), info("fe80::fc:ff:fe00:1"), info("febf::1")],
      eth1: [info("169.254.10.20"), info("10.0.0.5"), info("192.0.2.2")],
      docker0: [info("172.17.0.1")],
      "br-3f2a9c": [info("172.18.0.1")],
      veth12ab: [info("fe80::1")],
      wg0: [info("10.66.0.2")],
      tailscale0: [info("100.64.0.7")],
      "vEthernet (WSL)": [info("172.20.0.1")],
    });
    expect(ips).toEqual(["10.0.0.5", "192.0.2.2", "fd00::2"]);
  });

  it("accepts a custom exclusion pattern and leaves out temporary IPv6 addresses", () => {
    const ips = selectHostIps(
      { eth0: [info("192.0.2.2"), info("2001:db8::abcd"), info("2001:db8::1")], docker0: [info("172.17.0.1")] },
      { excludeInterface: /^eth/, temporaryIpv6: new Set(["2001:db8::abcd"]) },
    );
    expect(ips).toEqual(["172.17.0.1"]);
    expect(
      selectHostIps(
        { eth0: [info("2001:db8::abcd"), info("2001:db8::1")] },
        { temporaryIpv6: new Set(["2001:db8::abcd"]) },
      ),
    ).toEqual(["2001:db8::1"]);
  });
});

describe("canonicalIp", () => {
  it("normalises IPv6 spelling and rejects non-addresses", () => {
    expect(canonicalIp("2001:0DB8:0000::0001")).toBe("2001:db8::1");
    expect(canonicalIp("fe80::1%eth0")).toBe("fe80::1");
    expect(canonicalIp("192.0.2.1")).toBe("192.0.2.1");
    expect(canonicalIp("192.0.2")).toBeUndefined();
    expect(canonicalIp("host.example")).toBeUndefined();
  });
});

describe("parseTemporaryIpv6", () => {
  it("returns the addresses flagged temporary in /proc/net/if_inet6", () => {
    const proc = [
      "fd000000000000000000000000000002 04 40 00 80     eth0",
      "20010db8000000001c2d3e4f5a6b7c8d 04 40 00 01     eth0",
      "fe8000000000000000fc00fffe000001 04 40 20 80     eth0",
      "garbage line",
    ].join("\n");
    expect([...parseTemporaryIpv6(proc)]).toEqual(["2001:db8::1c2d:3e4f:5a6b:7c8d"]);
  });
});

import type { HostIdentity } from "../../../src/host/index.js";

export function sampleIdentity(overrides: Partial<HostIdentity> = {}): HostIdentity {
  return {
    ips: ["192.0.2.10", "2001:db8::10"],
    hostname: "cad-license-01",
    machineId: "3d1219c7c4c5404aaa1f6d2a48adfda4",
    osInstallId: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    driver: { nodeHid: "3.4.0", usb: "2.18.0", codeMeterRuntime: "8.20a" },
    runtime: { node: "20.20.2", platform: "linux", arch: "x64", osRelease: "6.1.0" },
    ...overrides,
  };
}

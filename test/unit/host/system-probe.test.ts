import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type HostProbeError, SystemHostProbe } from "../../../src/host/index.js";

const onLinux = process.platform === "linux";

describe("SystemHostProbe on this machine", () => {
  it.runIf(onLinux)("returns the machine id, the hostname and the installed driver packages", async () => {
    const identity = await new SystemHostProbe().probe();
    expect(identity.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(identity.hostname).toBe(os.hostname());
    expect(identity.osInstallId).toMatch(/^[0-9a-f]{32}$/);
    expect(identity.osInstallId).not.toContain(identity.machineId);
    const nodeHid = JSON.parse(readFileSync("node_modules/node-hid/package.json", "utf8")) as { version: string };
    expect(identity.driver.nodeHid).toBe(nodeHid.version);
    expect(identity.driver.usb).toMatch(/^2\./);
    expect(identity.runtime).toEqual({
      node: process.versions.node,
      platform: "linux",
      arch: process.arch,
      osRelease: os.release(),
    });
    for (const ip of identity.ips) expect(ip.startsWith("fe80:") || ip.startsWith("127.")).toBe(false);
  });

  it.runIf(onLinux)("gives the same identity on a second probe", async () => {
    const probe = new SystemHostProbe();
    expect(await probe.probe()).toEqual(await probe.probe());
  });
});

describe("SystemHostProbe with injected sources", () => {
  const machineIdFile = join(mkdtempSync(join(os.tmpdir(), "keybridge-host-")), "machine-id");
  writeFileSync(machineIdFile, "0123456789abcdef0123456789abcdef\n");

  it("fails with HOST_PROBE_FAILED when no machine id can be read", async () => {
    const probe = new SystemHostProbe({ platform: "linux", machineIdPaths: ["/nonexistent/machine-id"] });
    await expect(probe.probe()).rejects.toMatchObject({ code: "HOST_PROBE_FAILED" } satisfies Partial<HostProbeError>);
  });

  it("reads the machine id with ioreg on macOS and reports no CodeMeter when it is absent", async () => {
    const calls: string[] = [];
    const probe = new SystemHostProbe({
      platform: "darwin",
      run: async (file) => {
        calls.push(file);
        return file === "ioreg" ? '    "IOPlatformUUID" = "8A2B4C6D-1E3F-4A5B-9C8D-7E6F5A4B3C2D"\n' : undefined;
      },
      networkInterfaces: () => ({}),
      hostname: () => "mac-server",
    });
    const identity = await probe.probe();
    expect(identity.machineId).toBe("8a2b4c6d-1e3f-4a5b-9c8d-7e6f5a4b3c2d");
    expect(identity.hostname).toBe("mac-server");
    expect(identity.ips).toEqual([]);
    expect(calls).toContain("ioreg");
  });

  it("reads MachineGuid and InstallDate on Windows; a new InstallDate gives a new OS install id", async () => {
    let installDate = "0x65a1b2c3";
    const run = async (_file: string, args: readonly string[]) => {
      if (args.includes("MachineGuid")) return "    MachineGuid    REG_SZ    0D2C7F3E-51A4-4B8E-9F0A-6C1D2E3F4A5B\r\n";
      if (args.includes("InstallDate")) return `    InstallDate    REG_DWORD    ${installDate}\r\n`;
      return undefined;
    };
    const options = { platform: "win32" as const, run, networkInterfaces: () => ({}), slowFactsTtlMs: 0 };
    const first = await new SystemHostProbe(options).probe();
    expect(first.machineId).toBe("0d2c7f3e-51a4-4b8e-9f0a-6c1d2e3f4a5b");
    expect(first.driver.codeMeterRuntime).toBeUndefined();
    installDate = "0x66000000";
    const second = await new SystemHostProbe(options).probe();
    expect(second.machineId).toBe(first.machineId);
    expect(second.osInstallId).not.toBe(first.osInstallId);
  });

  it("reuses command results within the TTL and probes again after it", async () => {
    let now = 0;
    let runs = 0;
    const probe = new SystemHostProbe({
      platform: "linux",
      run: async (file) => {
        if (file === "dpkg-query") runs += 1;
        return file === "dpkg-query" ? "8.20.6519.500" : undefined;
      },
      now: () => now,
      machineIdPaths: [machineIdFile],
      slowFactsTtlMs: 60_000,
      networkInterfaces: () => ({}),
    });
    const identity = await probe.probe();
    expect(identity.driver.codeMeterRuntime).toBe("8.20.6519.500");
    await probe.probe();
    expect(runs).toBe(1);
    now = 60_000;
    await probe.probe();
    expect(runs).toBe(2);
  });

  it("falls back to CodeMeterLin -v when no package manager knows CodeMeter", async () => {
    const probe = new SystemHostProbe({
      platform: "linux",
      run: async (file) =>
        file === "/usr/sbin/CodeMeterLin" ? "CodeMeter for Linux v8.20a of 2024-Sep-05\n" : undefined,
      machineIdPaths: [machineIdFile],
      networkInterfaces: () => ({}),
    });
    expect((await probe.probe()).driver.codeMeterRuntime).toBe("8.20a");
  });
});

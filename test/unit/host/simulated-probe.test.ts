import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffIdentity, SIMULATED_HOST_FILE, SimulatedHostProbe } from "../../../src/host/index.js";

async function statePath(): Promise<string> {
  return join(await mkdtemp(join(os.tmpdir(), "keybridge-simhost-")), SIMULATED_HOST_FILE);
}

describe("SimulatedHostProbe", () => {
  it("keeps the simulated host across a restart", async () => {
    const path = await statePath();
    const host = await SimulatedHostProbe.open({ statePath: path });
    await host.setIp("198.51.100.7", "2001:DB8::0007");
    await host.setHostname("cad-license-02");
    const reopened = await SimulatedHostProbe.open({ statePath: path });
    expect(await reopened.probe()).toEqual(await host.probe());
    expect((await reopened.probe()).ips).toEqual(["198.51.100.7", "2001:db8::7"]);
    if (process.platform !== "win32") expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("changes machine id and OS install id on reinstall, nothing else", async () => {
    const host = await SimulatedHostProbe.open();
    const before = await host.probe();
    await host.reinstallOs();
    const components = diffIdentity(before, await host.probe()).map((change) => change.component);
    expect(components).toEqual(["machineId", "osInstallId"]);
  });

  it("removes and installs driver components", async () => {
    const host = await SimulatedHostProbe.open({ initial: { driver: { nodeHid: "3.4.0", codeMeterRuntime: "8.10" } } });
    await host.uninstallDriver("codeMeterRuntime");
    expect((await host.probe()).driver).toEqual({ nodeHid: "3.4.0" });
    await host.installDriver("8.20a");
    expect((await host.probe()).driver).toEqual({ nodeHid: "3.4.0", codeMeterRuntime: "8.20a" });
    await host.uninstallDriver();
    expect((await host.probe()).driver).toEqual({});
  });

  it("refuses invalid values with INVALID_HOST_VALUE and keeps the previous identity", async () => {
    const host = await SimulatedHostProbe.open();
    const before = await host.probe();
    await expect(host.setIp("10.0.0.300")).rejects.toMatchObject({ code: "INVALID_HOST_VALUE" });
    await expect(host.setHostname("bad host")).rejects.toMatchObject({ code: "INVALID_HOST_VALUE" });
    await expect(host.setMachineId("")).rejects.toMatchObject({ code: "INVALID_HOST_VALUE" });
    await expect(host.installDriver("8.20; rm -rf /")).rejects.toMatchObject({ code: "INVALID_HOST_VALUE" });
    expect(await host.probe()).toEqual(before);
  });

  it("applies concurrent changes in call order", async () => {
    const path = await statePath();
    const host = await SimulatedHostProbe.open({ statePath: path });
    await Promise.all([host.setHostname("first"), host.setHostname("second"), host.setIp("192.0.2.77")]);
    const stored = JSON.parse(await readFile(path, "utf8")) as { identity: { hostname: string; ips: string[] } };
    expect(stored.identity.hostname).toBe("second");
    expect(stored.identity.ips).toEqual(["192.0.2.77"]);
  });

  it("rejects a corrupt state file instead of silently creating a new host", async () => {
    const path = await statePath();
    await writeFile(path, "{ not json");
    await expect(SimulatedHostProbe.open({ statePath: path })).rejects.toMatchObject({ code: "HOST_STATE_CORRUPT" });
    await writeFile(path, JSON.stringify({ version: 1, identity: { ips: "x" } }));
    await expect(SimulatedHostProbe.open({ statePath: path })).rejects.toMatchObject({ code: "HOST_STATE_CORRUPT" });
  });

  it("reports a state file that cannot be written", async () => {
    const dir = await mkdtemp(join(os.tmpdir(), "keybridge-simhost-"));
    const blocker = join(dir, "file");
    await writeFile(blocker, "");
    // A path below a regular file cannot be created on any platform.
    await expect(SimulatedHostProbe.open({ statePath: join(blocker, "host.json") })).rejects.toMatchObject({
      code: "HOST_STATE_IO_FAILED",
    });
  });
});

import { describe, expect, it } from "vitest";
import { SIM_WINDOWS_SERVER_KEY } from "../../../native-mocks/codemeter-sim/index.js";
import type { ConfigReading } from "../../../src/codemeter/model/inputs.js";
import { detectCodeMeter } from "../../../src/codemeter/sources/detect.js";
import {
  IniServerConfigSource,
  type ReadOnlyRegistryBackend,
  RegistryServerConfigSource,
  WINDOWS_SERVER_KEY,
} from "../../../src/codemeter/sources/server-config.js";
import { FakeWindowsBackend } from "../registry/fake-windows-backend.js";
import { simWorld, watchedWorld } from "./helpers.js";

/**
 * Windows keeps CodeMeter's server configuration in the registry, not in Server.ini. The
 * SYNTHETIC simulated server lays its configuration out as that key in keybridge's fake Windows
 * registry backend, and the configuration source reads it through a view that can only read: it
 * must see tracking, the ports and the Borrow sections exactly as it sees them in Server.ini.
 */

const READ_CALLS = new Set(["hive", "keyExists", "enumSubkeys", "enumValueNames", "getValue"]);

/** The backend as the source gets it: read calls pass, anything else throws (and is never reached). */
function readOnlyView(backend: FakeWindowsBackend): ReadOnlyRegistryBackend {
  return new Proxy(backend, {
    get(target, name, receiver) {
      if (!READ_CALLS.has(String(name))) throw new Error(`the configuration source asked for ${String(name)}`);
      const value = Reflect.get(target, name, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function windowsServer() {
  const world = simWorld();
  const { sim } = world;
  const registry = new FakeWindowsBackend();
  sim.attachRegistry(registry);
  const ini = new IniServerConfigSource({ path: sim.paths.serverIni, defaultTrackingDir: sim.paths.logDir });
  const key = new RegistryServerConfigSource({ backend: readOnlyView(registry), defaultTrackingDir: sim.paths.logDir });
  /** Both readings, and the registry's write count across the registry read (which must not move). */
  const readBoth = async () => {
    const writes = registry.writes;
    const fromKey = await key.read();
    expect(registry.writes).toBe(writes);
    return { fromIni: await ini.read(), fromKey };
  };
  return { ...world, registry, readBoth };
}

function essentials(reading: ConfigReading) {
  if (reading.kind !== "ok") throw new Error(`not read: ${JSON.stringify(reading)}`);
  const { tracking, ports, bindAddress, borrow } = reading.config;
  return { tracking, ports, bindAddress, borrow, findings: reading.findings };
}

describe("the simulated server on Windows: its configuration as the registry key", () => {
  it("is laid out where CodeMeter keeps it, with RuntimeVersion, and read as the Windows configuration", async () => {
    const { sim, readBoth } = windowsServer();
    expect(SIM_WINDOWS_SERVER_KEY).toBe(WINDOWS_SERVER_KEY);
    const { fromKey } = await readBoth();
    expect(fromKey).toMatchObject({
      kind: "ok",
      config: { origin: "registry", where: `HKLM\\${WINDOWS_SERVER_KEY}`, runtimeVersion: sim.runtimeVersion },
    });
  });

  it("reads tracking, ports and the Borrow-section fingerprints the same as from Server.ini, as borrows come and go", async () => {
    const { sim, readBoth } = windowsServer();
    const compare = async () => {
      const { fromIni, fromKey } = await readBoth();
      expect(essentials(fromKey)).toEqual(essentials(fromIni));
      return essentials(fromKey);
    };
    const empty = await compare();
    expect(empty.tracking).toMatchObject({ enabled: true, dir: sim.paths.logDir });
    expect(empty.ports).toEqual({ network: 22350, wan: 22351, http: 22352, https: 22353 });
    expect(empty.borrow.BorrowServer).toMatchObject({ present: true, values: 0 });

    sim.advance(3_600_000);
    sim.borrow("ws-anna", "anna", 1001);
    sim.borrow("ws-ben", "ben", 2001);
    const lent = await compare();
    expect(lent.borrow.BorrowServer).toMatchObject({ present: true, values: 2 });
    expect(lent.borrow.BorrowManage.sha256).not.toBe(empty.borrow.BorrowManage.sha256);

    sim.loseBorrowSections();
    const lost = await compare();
    expect(lost.borrow.BorrowServer).toMatchObject({ present: true, values: 0 });

    sim.setTracking(false);
    expect((await compare()).tracking.enabled).toBe(false);
  });

  it("an uninstalled runtime takes the key with it: missing, as Server.ini is", async () => {
    const { sim, readBoth } = windowsServer();
    sim.uninstallRuntime();
    const { fromIni, fromKey } = await readBoth();
    expect(fromIni.kind).toBe("missing");
    expect(fromKey).toEqual({ kind: "missing", where: `HKLM\\${WINDOWS_SERVER_KEY}` });
  });

  it("the watch over the key: borrows seen, and Borrow sections lost while they are out raise registry-lost", async () => {
    const world = simWorld();
    const registry = new FakeWindowsBackend();
    world.sim.attachRegistry(registry);
    const config = new RegistryServerConfigSource({
      backend: readOnlyView(registry),
      defaultTrackingDir: world.sim.paths.logDir,
    });
    const { sim, watch, look } = await watchedWorld({ world, config, cmuTimeoutMs: 20_000 });
    sim.advance(3_600_000);
    sim.borrow("ws-anna", "anna", 1001);
    sim.borrow("ws-ben", "ben", 2001);
    sim.advance(60_000);
    await look();
    expect(watch.view().config).toMatchObject({ origin: "registry", where: `HKLM\\${WINDOWS_SERVER_KEY}` });
    expect(watch.view().borrows).toHaveLength(2);
    const writes = registry.writes;
    await look();
    expect(registry.writes).toBe(writes);
    sim.loseBorrowSections();
    await look();
    const risk = watch.risks().find((r) => r.kind === "registry-lost");
    expect(risk?.borrows).toHaveLength(2);
  });

  it("detection on Windows finds the server configuration in the key", async () => {
    const { registry } = windowsServer();
    const writes = registry.writes;
    const detection = await detectCodeMeter({
      platform: "win32",
      env: { PATH: "", ProgramData: "C:\\ProgramData" },
      registry: readOnlyView(registry),
      listSticks: async () => [],
    });
    expect(detection.found.serverConfig).toBe(true);
    expect(detection.where.serverConfig).toBe(`HKLM\\${WINDOWS_SERVER_KEY}`);
    expect(detection.config).toMatchObject({ kind: "ok", config: { origin: "registry" } });
    expect(registry.writes).toBe(writes);
  });
});

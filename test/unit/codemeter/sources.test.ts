import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { firstValueFrom, Subject, take, toArray } from "rxjs";
import { describe, expect, it } from "vitest";
import { createNodeHidStandIn, createUsbStandIn, VirtualBus } from "../../../native-mocks/index.js";
import { CmuRuntimeSource } from "../../../src/codemeter/sources/cmu.js";
import {
  IniServerConfigSource,
  RegistryServerConfigSource,
  WINDOWS_SERVER_KEY,
} from "../../../src/codemeter/sources/server-config.js";
import { type SeenDevice, stickSourceFromDevices, usbStickSource } from "../../../src/codemeter/sources/sticks.js";
import { virtualHidBackend } from "../../../src/transport/backend.js";
import { FakeWindowsBackend } from "../registry/fake-windows-backend.js";
import { onCleanup, simWorld, tempDir } from "./helpers.js";

// Sources against the SYNTHETIC simulated installation and synthetic files.

describe("cmu", () => {
  it("reads the version, the service and the containers from the stand-in, with --version and --list only", async () => {
    const { sim } = simWorld();
    const reading = await new CmuRuntimeSource({ command: sim.paths.cmu }).read();
    expect(reading).toMatchObject({
      kind: "ok",
      version: { version: "8.20a", serviceRunning: true },
      list: { count: 1, serials: ["3-6903986"] },
    });
    sim.stopService();
    expect(await new CmuRuntimeSource({ command: sim.paths.cmu }).read()).toMatchObject({
      kind: "ok",
      version: { serviceRunning: false },
    });
    const asked = readFileSync(sim.paths.invocations, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(new Set(asked.map((args: string[]) => args.join(" ")))).toEqual(new Set(["--version", "--list"]));
  });

  it("a missing cmu is a state, not an error", async () => {
    expect(await new CmuRuntimeSource({ command: join(tempDir(), "no-cmu") }).read()).toEqual({
      kind: "missing",
      command: expect.stringContaining("no-cmu"),
    });
  });

  it("a hanging cmu is killed at the timeout: a finding", async () => {
    const { sim } = simWorld();
    sim.setCmuBehaviour("hang");
    const reading = await new CmuRuntimeSource({ command: sim.paths.cmu, timeoutMs: 1500 }).read();
    expect(reading).toMatchObject({ kind: "failed", finding: { code: "cmu-timeout", where: sim.paths.cmu } });
  });

  it("garbage and a non-zero exit are findings", async () => {
    const { sim } = simWorld();
    sim.setCmuBehaviour("garbage");
    expect(await new CmuRuntimeSource({ command: sim.paths.cmu }).read()).toMatchObject({
      kind: "failed",
      finding: { code: "cmu-garbage" },
    });
    sim.setCmuBehaviour("fail");
    const failed = await new CmuRuntimeSource({ command: sim.paths.cmu }).read();
    expect(failed).toMatchObject({ kind: "failed", finding: { code: "cmu-failed" } });
    expect(failed.kind === "failed" && failed.finding.message).toContain("exited with code 2: cmu: synthetic failure");
  });
});

describe("Server.ini", () => {
  it("reads the simulated installation's file", async () => {
    const { sim } = simWorld();
    const reading = await new IniServerConfigSource({ path: sim.paths.serverIni, defaultTrackingDir: "/x" }).read();
    expect(reading).toMatchObject({
      kind: "ok",
      findings: [],
      config: { tracking: { enabled: true, dir: sim.paths.logDir }, ports: { network: 22350, http: 22352 } },
    });
  });

  it("absent: missing; a directory or an oversized file: a finding", async () => {
    const dir = tempDir();
    const source = (path: string) => new IniServerConfigSource({ path, defaultTrackingDir: "/x", maxBytes: 1 << 20 });
    expect(await source(join(dir, "Server.ini")).read()).toEqual({ kind: "missing", where: join(dir, "Server.ini") });
    mkdirSync(join(dir, "isdir"));
    expect(await source(join(dir, "isdir")).read()).toMatchObject({
      kind: "failed",
      finding: { code: "config-unreadable" },
    });
    const big = join(dir, "big.ini");
    const fd = openSync(big, "w");
    ftruncateSync(fd, 2 << 20);
    closeSync(fd);
    expect(await source(big).read()).toMatchObject({ kind: "failed", finding: { code: "config-too-large" } });
  });

  it("duplicate sections and invalid bytes: findings, values still read", async () => {
    const file = join(tempDir(), "Server.ini");
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from(
          "; SYNTHETIC\n[General]\nLogLicenseTracking=1\n[BorrowServer]\nA=\xff\n[General]\nNetworkPort=22350\n",
          "latin1",
        ),
      ]),
    );
    const reading = await new IniServerConfigSource({ path: file, defaultTrackingDir: "/x" }).read();
    expect(reading.kind === "ok" && reading.findings.map((f) => f.code).sort()).toEqual([
      "config-duplicate-section",
      "config-invalid-encoding",
    ]);
    expect(reading.kind === "ok" && reading.config.ports.network).toBe(22350);
  });
});

describe("the Windows registry key", () => {
  it("is read through the backend with read calls only", async () => {
    const fake = new FakeWindowsBackend();
    fake.createKey(`${WINDOWS_SERVER_KEY}\\General`);
    fake.setValue(WINDOWS_SERVER_KEY, "RuntimeVersion", { kind: "REG_SZ", data: "8.20.6539.500" });
    fake.setValue(`${WINDOWS_SERVER_KEY}\\General`, "LogLicenseTracking", { kind: "REG_DWORD", data: 1 });
    fake.setValue(`${WINDOWS_SERVER_KEY}\\General`, "NetworkPort", { kind: "REG_DWORD", data: 22350 });
    fake.createKey(`${WINDOWS_SERVER_KEY}\\BorrowServer`);
    fake.setValue(`${WINDOWS_SERVER_KEY}\\BorrowServer`, "Item0", { kind: "REG_BINARY", data: Uint8Array.of(1, 2) });
    const writesBefore = fake.writes;
    const reads: string[] = [];
    // Every call the source makes is recorded; a write would be refused.
    const readOnly = new Proxy(fake, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        if (!["keyExists", "enumSubkeys", "enumValueNames", "getValue"].includes(String(name))) {
          return () => {
            throw new Error(`write call ${String(name)}`);
          };
        }
        return (...args: unknown[]) => {
          reads.push(String(name));
          return value.apply(target, args);
        };
      },
    });
    const reading = await new RegistryServerConfigSource({ backend: readOnly, defaultTrackingDir: "C:\\PD" }).read();
    expect(reading).toMatchObject({
      kind: "ok",
      config: {
        origin: "registry",
        where: `HKLM\\${WINDOWS_SERVER_KEY}`,
        runtimeVersion: "8.20.6539.500",
        tracking: { enabled: true, dir: "C:\\PD" },
        ports: { network: 22350 },
        borrow: { BorrowServer: { present: true, values: 1 }, BorrowClient: { present: false } },
      },
    });
    expect(fake.writes).toBe(writesBefore);
    expect(reads.length).toBeGreaterThan(0);
    expect(
      await new RegistryServerConfigSource({ backend: new FakeWindowsBackend(), defaultTrackingDir: "x" }).read(),
    ).toEqual({
      kind: "missing",
      where: `HKLM\\${WINDOWS_SERVER_KEY}`,
    });
  });

  it("access denied: a finding", async () => {
    const denied = {
      hive: "HKLM",
      keyExists: () => {
        throw Object.assign(new Error("Access is denied."), { errno: 5 });
      },
      enumSubkeys: () => null,
      enumValueNames: () => null,
      getValue: () => null,
    };
    expect(await new RegistryServerConfigSource({ backend: denied, defaultTrackingDir: "x" }).read()).toMatchObject({
      kind: "failed",
      finding: { code: "config-registry-unreadable", message: expect.stringContaining("access denied") },
    });
  });
});

describe("CmSticks", () => {
  it("the adapter turns found devices into the sticks present, once per change", async () => {
    const found$ = new Subject<readonly SeenDevice[]>();
    const seen = firstValueFrom(stickSourceFromDevices(found$).sticks$.pipe(take(2), toArray()));
    const stick = {
      kind: "codemeter",
      serial: "3-1",
      path: "/p1",
      vendorId: 0x064f,
      productId: 0x2af9,
      model: "CmStick (HID)",
    } as const;
    const key = {
      kind: "keybridge",
      serial: "KB-1",
      path: "/p2",
      vendorId: 0x1209,
      productId: 1,
      model: "key",
    } as const;
    found$.next([stick, key]);
    found$.next([key, stick]);
    found$.next([key]);
    expect(await seen).toEqual([[{ serial: "3-1", model: "CmStick (HID)", path: "/p1", productId: 0x2af9 }], []]);
  });

  it("from USB: the virtual bus's CmStick through hotplug and the transport's discovery", async () => {
    const bus = new VirtualBus();
    onCleanup(() => bus.close());
    const backend = virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
    bus.addCodeMeterStick({ serial: "3-6903986", productId: 0x2af9 });
    const lists: string[][] = [];
    const subscription = usbStickSource(backend, { debounceMs: 5, pollMs: 50 }).sticks$.subscribe((sticks) =>
      lists.push(sticks.map((stick) => stick.serial)),
    );
    onCleanup(() => subscription.unsubscribe());
    await expect.poll(() => lists.at(-1)).toEqual(["3-6903986"]);
    bus.unplug("3-6903986");
    await expect.poll(() => lists.at(-1)).toEqual([]);
    bus.plug("3-6903986");
    await expect.poll(() => lists.at(-1)).toEqual(["3-6903986"]);
  });
});

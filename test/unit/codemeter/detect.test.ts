import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createNodeHidStandIn, createUsbStandIn } from "../../../native-mocks/index.js";
import { detectCodeMeter, findExecutable, resolveCodeMeterMode } from "../../../src/codemeter/index.js";
import { listStickSightings } from "../../../src/codemeter/sources/sticks.js";
import { virtualHidBackend } from "../../../src/transport/backend.js";
import { simWorld, tempDir } from "./helpers.js";

/** A SYNTHETIC simulated installation, seen the way `keybridge serve` would look at this host. */
function simulatedHost() {
  const world = simWorld();
  const backend = virtualHidBackend(createNodeHidStandIn(world.bus), createUsbStandIn(world.bus));
  const options = {
    platform: "linux" as const,
    env: { PATH: "/nonexistent" },
    serverIni: world.sim.paths.serverIni,
    cmu: world.sim.paths.cmu,
    listSticks: () => listStickSightings(backend),
  };
  return { ...world, options };
}

describe("detectCodeMeter", () => {
  it("finds every part of a simulated installation: Server.ini, cmu, the CmStick over the transport's discovery, the log directory", async () => {
    const { sim, options } = simulatedHost();
    const detection = await detectCodeMeter(options);
    expect(detection.found).toEqual({ serverConfig: true, cmu: true, stick: true, trackingDir: true });
    expect(detection.cmuPath).toBe(sim.paths.cmu);
    expect(detection.sticks.map((stick) => stick.serial)).toEqual([sim.stickSerial]);
    expect(detection.trackingDir).toEqual({
      path: sim.paths.logDir,
      from: "server-config",
      present: true,
      error: null,
    });
    expect(detection.config.kind).toBe("ok");
    expect(resolveCodeMeterMode({ mode: "auto", found: detection.found }).runs).toBe(true);
  });

  it("after an uninstall the log directory and the stick are what is left, and auto still runs", async () => {
    const { sim, options } = simulatedHost();
    sim.uninstallRuntime();
    const detection = await detectCodeMeter(options);
    expect(detection.found).toMatchObject({ serverConfig: false, cmu: false, stick: true });
    // Without Server.ini the directory looked at is the platform's default, not the simulated one.
    expect(detection.trackingDir.from).toBe("default");
    expect(detection.where.trackingDir).toBe("/var/log/CodeMeter");
    expect(resolveCodeMeterMode({ mode: "auto", found: detection.found }).runs).toBe(true);
  });

  it("a host without CodeMeter: nothing found, auto does not run; codemeter.logDir is looked at as given", async () => {
    const root = tempDir();
    const detection = await detectCodeMeter({
      platform: "linux",
      env: { PATH: "" },
      serverIni: join(root, "Server.ini"),
      logDir: join(root, "tracking"),
      listSticks: async () => [],
    });
    expect(detection.found).toEqual({ serverConfig: false, cmu: false, stick: false, trackingDir: false });
    expect(detection.where).toEqual({
      serverConfig: join(root, "Server.ini"),
      cmu: "cmu on PATH",
      stick: "USB",
      trackingDir: join(root, "tracking"),
    });
    expect(detection.trackingDir.from).toBe("keybridge-config");
    expect(resolveCodeMeterMode({ mode: "auto", found: detection.found })).toMatchObject({
      runs: false,
      reason: expect.stringMatching(/^no CodeMeter on this host/),
    });
  });

  it("a USB stack that does not answer or fails: no stick, the reason kept, the rest still looked at", async () => {
    const { options } = simulatedHost();
    const hung = await detectCodeMeter({ ...options, listSticks: () => new Promise(() => {}), sticksTimeoutMs: 50 });
    expect(hung.found.stick).toBe(false);
    expect(hung.sticksError).toBe("the USB listing did not answer within 50 ms");
    expect(hung.found.serverConfig).toBe(true);
    const failed = await detectCodeMeter({
      ...options,
      listSticks: () => Promise.reject(new Error("libusb: no such file", { cause: new Error("LIBUSB_ERROR_IO") })),
    });
    expect(failed.sticksError).toBe("libusb: no such file: LIBUSB_ERROR_IO");
  });
});

describe("findExecutable", () => {
  it("looks cmu up on PATH as a shell would: the first executable file, never a directory or a plain file", async () => {
    const root = tempDir();
    const [a, b, c] = ["a", "b", "c"].map((name) => join(root, name));
    for (const dir of [a, b, c]) mkdirSync(dir!);
    mkdirSync(join(a!, "cmu"));
    writeFileSync(join(b!, "cmu"), "not executable");
    writeFileSync(join(c!, "cmu"), "#!/bin/sh\n");
    chmodSync(join(c!, "cmu"), 0o755);
    const env = { PATH: [a, b, c].join(":") };
    expect(await findExecutable("cmu", { platform: "linux", env })).toBe(join(c!, "cmu"));
    expect(await findExecutable("cmu", { platform: "linux", env: { PATH: a! } })).toBeNull();
    expect(await findExecutable(join(c!, "cmu"), { platform: "linux", env: {} })).toBe(join(c!, "cmu"));
    expect(await findExecutable(join(b!, "cmu"), { platform: "linux", env: {} })).toBeNull();
  });
});

import { createHash } from "node:crypto";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { type Observable, ReplaySubject, Subject } from "rxjs";
import { afterEach } from "vitest";
import { SimulatedCodeMeterServer, type SimulatedServerOptions } from "../../../native-mocks/codemeter-sim/index.js";
import { createNodeHidStandIn, createUsbStandIn, VirtualBus } from "../../../native-mocks/index.js";
import type { MaintenanceWindow } from "../../../src/codemeter/model/risks.js";
import { CmuRuntimeSource } from "../../../src/codemeter/sources/cmu.js";
import { MemoryPositionStore, type PositionStore } from "../../../src/codemeter/sources/position-store.js";
import { IniServerConfigSource } from "../../../src/codemeter/sources/server-config.js";
import { type SeenDevice, stickSourceFromDevices } from "../../../src/codemeter/sources/sticks.js";
import { FollowedTrackingLog } from "../../../src/codemeter/sources/tracking-log.js";
import { type CodeMeterObservationStore, MemoryObservationStore } from "../../../src/codemeter/store.js";
import { CodeMeterWatch, type CodeMeterWatchOptions } from "../../../src/codemeter/watch.js";
import type { ClockJumpEvent, HostIdentity } from "../../../src/host/index.js";
import { virtualHidBackend } from "../../../src/transport/backend.js";
import { listCodeMeterSticks } from "../../../src/transport/discovery.js";

const dirs: string[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = "keybridge-codemeter-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function onCleanup(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

export interface SimWorld {
  readonly sim: SimulatedCodeMeterServer;
  readonly bus: VirtualBus;
  /** Re-enumerates the bus through the transport's discovery and feeds the stick source, as the bridge would. */
  rescan(): Promise<void>;
  /** Sends the simulated host's identity to the watch. */
  publishHost(): void;
  readonly found$: ReplaySubject<readonly SeenDevice[]>;
  readonly identity$: ReplaySubject<HostIdentity>;
  readonly clockJumps$: Subject<ClockJumpEvent>;
}

export function simWorld(options: Partial<SimulatedServerOptions> = {}): SimWorld {
  const bus = new VirtualBus();
  onCleanup(() => bus.close());
  const sim = new SimulatedCodeMeterServer({ root: tempDir("keybridge-cmsim-"), bus, ...options });
  const backend = virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
  const found$ = new ReplaySubject<readonly SeenDevice[]>(1);
  const identity$ = new ReplaySubject<HostIdentity>(1);
  const clockJumps$ = new Subject<ClockJumpEvent>();
  return {
    sim,
    bus,
    found$,
    identity$,
    clockJumps$,
    async rescan() {
      found$.next(await listCodeMeterSticks(backend));
    },
    publishHost() {
      const host = sim.host();
      identity$.next({
        ips: [...host.ips],
        hostname: host.hostname,
        machineId: host.machineId,
        osInstallId: `os-${host.machineId}`,
        driver: sim.runtimeVersion === null ? {} : { codeMeterRuntime: sim.runtimeVersion },
        runtime: { node: "20", platform: "linux", arch: "x64", osRelease: "sim" },
      });
    },
  };
}

export interface WatchedWorld extends SimWorld {
  readonly watch: CodeMeterWatch;
  readonly store: CodeMeterObservationStore;
  readonly positions: PositionStore;
  readonly trackingLog: FollowedTrackingLog;
  /** Every source read once more, with the sticks and host as they are now. */
  look(): Promise<void>;
}

export async function watchedWorld(
  options: Partial<SimulatedServerOptions> & {
    world?: SimWorld;
    store?: CodeMeterObservationStore;
    positions?: PositionStore;
    watch?: CodeMeterWatchOptions;
    cmuTimeoutMs?: number;
    maintenance$?: Observable<MaintenanceWindow | null>;
  } = {},
): Promise<WatchedWorld> {
  const world = options.world ?? simWorld(options);
  const { sim } = world;
  const store = options.store ?? new MemoryObservationStore();
  const positions = options.positions ?? new MemoryPositionStore();
  const trackingLog = new FollowedTrackingLog({ directory: sim.paths.logDir, positions: () => positions });
  const watch = new CodeMeterWatch(
    {
      runtime: new CmuRuntimeSource({ command: sim.paths.cmu, timeoutMs: options.cmuTimeoutMs ?? 10_000 }),
      config: new IniServerConfigSource({ path: sim.paths.serverIni, defaultTrackingDir: sim.paths.logDir }),
      trackingLog,
      sticks: stickSourceFromDevices(world.found$),
      host: { identity$: world.identity$, clockJumps$: world.clockJumps$ },
      ...(options.maintenance$ === undefined ? {} : { maintenance$: options.maintenance$ }),
    },
    store,
    {
      now: () => sim.now(),
      // The test drives every read itself (look()); background polls would only add noise.
      runtimePollMs: 3_600_000,
      configPollMs: 3_600_000,
      logPollMs: 3_600_000,
      tickMs: 3_600_000,
      ...options.watch,
    },
  );
  onCleanup(() => watch.close());
  const look = async () => {
    await world.rescan();
    world.publishHost();
    await watch.refresh();
  };
  await world.rescan();
  world.publishHost();
  await watch.start();
  return { ...world, watch, store, positions, trackingLog, look };
}

export interface Entry {
  kind: "file" | "dir" | "other";
  mode: number;
  size: number;
  mtimeMs: number;
  sha256: string | null;
}

/** Every file and directory below `root`: kind, mode, size, modification time, SHA-256 of the content. */
export function snapshot(root: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const walk = (path: string) => {
    const info = lstatSync(path);
    const kind = info.isFile() ? "file" : info.isDirectory() ? "dir" : "other";
    entries.set(relative(root, path) || ".", {
      kind,
      mode: info.mode,
      size: info.size,
      mtimeMs: info.mtimeMs,
      sha256: kind === "file" ? createHash("sha256").update(readFileSync(path)).digest("hex") : null,
    });
    if (kind === "dir") for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(root);
  return entries;
}

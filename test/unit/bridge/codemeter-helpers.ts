import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filter, firstValueFrom, type Observable, timeout } from "rxjs";
import { afterEach } from "vitest";
import { SimulatedCodeMeterServer } from "../../../native-mocks/codemeter-sim/index.js";
import type { BridgeOptions, RiskView } from "../../../src/bridge/api.js";
import type { BridgeInternals, OpenedBridge } from "../../../src/bridge/open.js";
import { openVirtual } from "./helpers.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/**
 * A virtual bridge beside a SYNTHETIC simulated CodeMeter server (native-mocks/codemeter-sim):
 * its Server.ini, tracking log and cmu stand-in are what the bridge's CodeMeter mode reads, and
 * its CmStick is on the bridge's own virtual bus. The sim's clock starts now and is the watch's.
 */
export interface CodeMeterBridgeWorld {
  readonly bridge: OpenedBridge;
  readonly sim: SimulatedCodeMeterServer;
  /** Unplugs the server's CmStick: in the simulation and on the bridge's bus. */
  unplugStick(): void;
  plugStick(): void;
}

export interface CodeMeterBridgeOptions {
  /** Borrows made in the simulation before the bridge opens: [client, user, product code, days]. */
  readonly borrows?: readonly [string, string, number, number?][];
  readonly mode?: "auto" | "on" | "off";
  readonly tracking?: boolean;
  readonly bridge?: Partial<BridgeOptions>;
  readonly internals?: BridgeInternals;
  /** How often the watch runs cmu (default: never again after the first read). */
  readonly runtimePollMs?: number;
}

export function simRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "keybridge-cmbridge-"));
  roots.push(root);
  return root;
}

export async function openCodeMeterBridge(options: CodeMeterBridgeOptions = {}): Promise<CodeMeterBridgeWorld> {
  const sim = new SimulatedCodeMeterServer({
    root: simRoot(),
    start: Date.now(),
    ...(options.tracking === undefined ? {} : { tracking: options.tracking }),
  });
  for (const [client, user, product, days] of options.borrows ?? []) sim.borrow(client, user, product, days);
  const bridge = await openVirtual(
    {
      codemeter: {
        mode: options.mode ?? "auto",
        serverIni: sim.paths.serverIni,
        logDir: sim.paths.logDir,
        cmu: sim.paths.cmu,
      },
      ...options.bridge,
    },
    {
      ...options.internals,
      codeMeterWatch: {
        now: () => sim.now(),
        // The tests read the sources through preflight (which reads them first) or wait for the stick stream.
        runtimePollMs: options.runtimePollMs ?? 3_600_000,
        configPollMs: 3_600_000,
        logPollMs: 3_600_000,
        tickMs: 3_600_000,
      },
    },
  );
  const bus = bridge.testSeams.world?.bus;
  if (bus === undefined) throw new Error("not virtual");
  if (options.mode !== "off") {
    bus.addCodeMeterStick({ serial: sim.stickSerial, productId: 0x2af9 });
    await waitFor(bridge.events$, (event) => event.type === "key.attached" && event.serial === sim.stickSerial);
  }
  return {
    bridge,
    sim,
    unplugStick() {
      sim.unplugStick();
      bus.unplug(sim.stickSerial);
    },
    plugStick() {
      sim.plugStick();
      bus.plug(sim.stickSerial);
    },
  };
}

export function waitFor<T>(stream: Observable<T>, predicate: (value: T) => boolean, ms = 10_000): Promise<T> {
  return firstValueFrom(stream.pipe(filter(predicate), timeout(ms)));
}

export function waitForRisk(
  bridge: OpenedBridge,
  predicate: (risk: RiskView) => boolean,
  ms = 10_000,
): Promise<RiskView[]> {
  return waitFor(bridge.risks$, (risks) => risks.some(predicate), ms);
}

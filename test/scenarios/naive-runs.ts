import { createDemoKey, type VirtualBus } from "../../native-mocks/index.js";
import type { LicenseUpdateSigner } from "../../src/key/index.js";
import { newTestVendor } from "../conformance/vendor.js";
import { CLIENTS, DAY_MS, DummyTracker, type RunResult, SERIAL, TIMELINE, UPGRADED_LICENSES } from "./kit.js";
import { NaiveServer } from "./naive-server.js";
import type { ScenarioId } from "./scenario-ids.js";

const HOST = { ip: "192.0.2.10", hostname: "license-srv", machineId: "4f1c0de5" };

/** One naive run: the scenario's forbidden action happens on `actionDay`; the server never knows better. */
interface NaiveWorld {
  bus: VirtualBus;
  /** The key's vendor: signs the license updates any server applies. */
  signer: LicenseUpdateSigner;
  server: NaiveServer;
  ids: Map<string, number>;
  notes: string[];
  /** The server on the computer the key was moved to. */
  moved?: NaiveServer;
  /** The server now in charge (moving the key hands it to another). */
  current(): NaiveServer;
}

type NaiveAction = (world: NaiveWorld, day: number) => Promise<void>;

interface NaivePlan {
  actionDay: number;
  action: NaiveAction;
}

const PLANS: Record<ScenarioId, NaivePlan> = {
  "upgrade-licenses": {
    actionDay: 1,
    action: async (w) => {
      const dummies = await w.current().licenseUpdate(UPGRADED_LICENSES);
      w.notes.push(`LICENSE_UPDATE went through; the key made ${dummies} dummies`);
      w.notes.push(`a new borrow of 1001 was ${await w.current().tryBorrow(1001, "ws-9")}`);
    },
  },
  "upgrade-licenses-forced": {
    actionDay: 1,
    action: async (w) => {
      await w.current().licenseUpdate(UPGRADED_LICENSES);
      w.notes.push("LICENSE_UPDATE went through");
    },
  },
  "install-major-version": {
    actionDay: 1,
    action: async (w) => {
      w.current().wipeRegistry();
      w.notes.push("the new version started with an empty registry");
    },
  },
  "unplug-key": {
    actionDay: 29,
    action: async (w, day) => {
      if (day === 29) {
        w.bus.unplug(SERIAL);
        w.notes.push("key unplugged on day 29, plugged back on day 32");
      }
    },
  },
  "move-key": {
    actionDay: 1,
    action: async (w) => {
      w.notes.push("key moved to another computer running the license server (same network settings)");
      w.moved = new NaiveServer(
        w.bus,
        SERIAL,
        { ip: "192.0.2.11", hostname: "license-srv-2", machineId: "77aa01" },
        w.signer,
      );
    },
  },
  "uninstall-driver": {
    actionDay: 1,
    action: async (w) => {
      w.current().wipeRegistry();
      w.notes.push("driver uninstalled and reinstalled: registry entries gone");
    },
  },
  "reinstall-os": {
    actionDay: 1,
    action: async (w) => {
      w.current().wipeRegistry();
      w.current().host = { ...w.current().host, machineId: "9e22b7c1" };
      w.notes.push("OS reinstalled: registry gone, new machine id");
    },
  },
  "change-ip": {
    actionDay: 1,
    action: async (w) => {
      w.current().host = { ...w.current().host, ip: "192.0.2.99" };
      w.notes.push("IP address changed");
    },
  },
  "restart-service": {
    actionDay: 1,
    action: async (w) => {
      await w.current().borrowThenDie(1003, "ws-4");
      w.notes.push("service restarted while a borrow was between key and registry");
    },
  },
  "change-hostname": {
    actionDay: 1,
    action: async (w) => {
      w.current().host = { ...w.current().host, hostname: "license-srv-renamed" };
      w.notes.push("hostname changed");
    },
  },
  "clock-jump": {
    actionDay: 2,
    action: async (w) => {
      w.current().hostClockOffsetMs = -3 * DAY_MS;
      w.notes.push("host clock set back 3 days");
    },
  },
};

/** Runs one scenario against the naive server on a fresh virtual key and counts the dummies. */
export async function runNaive(id: ScenarioId): Promise<RunResult> {
  const plan = PLANS[id];
  const vendor = newTestVendor();
  const { bus, key } = createDemoKey({ serial: SERIAL, vendorPublicKey: vendor.publicKey });
  const signer: LicenseUpdateSigner = { sign: (update) => vendor.sign(update) };
  const server = new NaiveServer(bus, SERIAL, { ...HOST }, signer);
  const tracker = new DummyTracker();
  const world: NaiveWorld = { bus, signer, server, ids: new Map(), notes: [], current: () => world.moved ?? server };
  try {
    for (const c of CLIENTS) world.ids.set(c.client, await server.borrow(c.product, c.client));
    for (let day = 1; day <= TIMELINE.lastDay; day++) {
      key.advanceClock(DAY_MS);
      if (id === "unplug-key" && day === 32) bus.plug(SERIAL);
      if (day === plan.actionDay) await plan.action(world, day);
      const current = world.current();
      if (day === TIMELINE.returnDay) {
        for (const c of CLIENTS) {
          if (!c.returns) continue;
          const outcome = await current.returnBorrow(world.ids.get(c.client) ?? -1);
          if (outcome !== "returned") world.notes.push(`return of ${c.client}'s borrow: ${outcome}`);
        }
      }
      await current.sweep(key.keyTime);
      tracker.observe([key]);
    }
    return tracker.result(world.notes, tracker.activeOn([key]));
  } finally {
    await server.close();
    await world.moved?.close();
    bus.close();
  }
}

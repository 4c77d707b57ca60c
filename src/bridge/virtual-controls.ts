import { isCodedError } from "../errors.js";
import { layerLogger } from "../log.js";
import type { VirtualControls } from "./api.js";
import type { ExpiryService } from "./expiry.js";
import type { HostWatch } from "./host-watch.js";
import type { KeyManager } from "./key-manager.js";
import type { Mirror } from "./mirror.js";
import type { VirtualWorld } from "./virtual-world.js";

const log = layerLogger("bridge");

/** What the virtual controls act on besides the world itself. */
export interface VirtualControlInputs {
  readonly keys: Pick<KeyManager, "call" | "rescan" | "servingSessions">;
  readonly host: Pick<HostWatch, "refresh">;
  readonly mirror: Pick<Mirror, "wipe">;
  readonly expiry: Pick<ExpiryService, "sweep">;
}

/**
 * `bridge.virtual`: the virtual world played from outside, each change followed by what the bridge
 * would see of it in real life (a rescan after a plug, a host probe after an identity change, an
 * expiry sweep after the clocks moved).
 */
export function virtualControls(world: VirtualWorld, inputs: VirtualControlInputs): VirtualControls {
  const { keys } = inputs;
  const probe = world.host;
  return {
    keys: async () => world.keyViews(),
    create: async (input) => {
      const view = world.create(input);
      await keys.rescan();
      return view;
    },
    plug: async (serial) => {
      world.plug(serial);
      await keys.rescan();
      return world.keyViews().find((view) => view.serial === serial) ?? world.keyViews()[0]!;
    },
    unplug: async (serial) => {
      world.unplug(serial);
      await keys.rescan();
      return world.keyViews().find((view) => view.serial === serial) ?? world.keyViews()[0]!;
    },
    advanceClock: async (ms) => {
      world.advanceClocks(ms);
      for (const session of keys.servingSessions()) {
        const time = await keys.call(session, (client) => client.getTime());
        session.setKeyTime(time.keyTimeMs);
        // The key may have made or cleared dummies by itself (K4/K5) at the new time.
        await session.refreshLicenses().catch((error: unknown) => {
          log.warn("listing the key's licenses after a clock advance failed; seat counts stay as last known", {
            serial: session.serial,
            code: isCodedError(error) ? error.code : undefined,
            error: String(error),
          });
        });
      }
      await inputs.expiry.sweep();
      const first = world.bus.keys()[0];
      return { keyTime: new Date(first === undefined ? Date.now() : first.keyTime).toISOString() };
    },
    setHost: async (input) => {
      if (input.ip !== undefined) await probe.setIp(input.ip);
      if (input.hostname !== undefined) await probe.setHostname(input.hostname);
      if (input.machineId !== undefined) await probe.setMachineId(input.machineId);
      await inputs.host.refresh();
      const identity = probe.snapshot();
      return { ips: identity.ips, hostname: identity.hostname, machineId: identity.machineId };
    },
    wipeRegistry: async () => {
      await inputs.mirror.wipe();
    },
  };
}

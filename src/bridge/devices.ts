import { EventEmitter } from "node:events";
import { type HostProbe, SystemHostProbe } from "../host/index.js";
import { layerLogger } from "../log.js";
import { type HidBackend, HidBackendUnavailable, loadHidBackend } from "../transport/index.js";
import type { VirtualWorld } from "./virtual-world.js";

const log = layerLogger("bridge");

/** Where keys and the host identity come from: the real USB bus and host, or virtual mode's world. */
export interface Devices {
  readonly backend: HidBackend;
  readonly probe: HostProbe;
  /** Virtual mode only. */
  readonly world: VirtualWorld | undefined;
}

/**
 * Virtual mode loads its world (bus, key files, simulated host) only here, so a real-mode daemon
 * never loads the virtual bus and firmware. Real mode without USB HID runs without keys.
 */
export async function openDevices(options: {
  readonly dataDir: string;
  readonly virtual: boolean;
  readonly virtualLatencyMs: number;
}): Promise<Devices> {
  if (options.virtual) {
    const { VirtualWorld } = await import("./virtual-world.js");
    const world = await VirtualWorld.open(options.dataDir, options.virtualLatencyMs);
    return { backend: world.backend, probe: world.host, world };
  }
  const backend = await loadHidBackend().catch((error: unknown) => {
    log.error("USB HID is unavailable; running without keys", { error: String(error) });
    return emptyBackend();
  });
  return { backend, probe: new SystemHostProbe(), world: undefined };
}

function emptyBackend(): HidBackend {
  return {
    kind: "real",
    hid: {
      devicesAsync: async () => [],
      HIDAsync: {
        open: async () => {
          throw new HidBackendUnavailable();
        },
      },
    },
    usb: { usb: new EventEmitter(), getDeviceList: () => [] },
  };
}

import type { KeySnapshot } from "../firmware/firmware.js";
import { charDeviceOpener, GadgetPort, type GadgetPortEvent, gadgetPowerProbe } from "../gadget-port.js";
import { BoardKeyStore, removeTempFiles } from "./key-file.js";
import { StateLock } from "./lock.js";

export interface ServeKeyOptions {
  readonly statePath: string;
  /** The gadget's HID node, /dev/hidg0. */
  readonly device: string;
  /**
   * The gadget's configfs directory: the key powers down when it is unbound or its controller
   * loses the bus (an unplug) and boots from its state when power comes back, as a real key does.
   */
  readonly gadgetDir?: string;
  readonly udcDir?: string;
  readonly onEvent?: (event: GadgetPortEvent) => void;
}

export interface ServingKey {
  readonly key: KeySnapshot;
  readonly port: GadgetPort;
  /** Resolves once the node is open. */
  readonly ready: Promise<void>;
  /** Stops serving and releases the key's lock. The process must exit afterwards (a read blocked in the node is not woken). */
  stop(): void;
}

/** Serves the key's firmware on the gadget node; one process per key (the state's lock). */
export function serveKey(options: ServeKeyOptions): ServingKey {
  const lock = StateLock.acquire(options.statePath, "serve it");
  try {
    removeTempFiles(options.statePath);
    const store = new BoardKeyStore(options.statePath);
    const serial = store.load().serial;
    const port = new GadgetPort({
      open: charDeviceOpener(options.device),
      store,
      newKey: { serial },
      ...(options.gadgetDir === undefined ? {} : { powered: gadgetPowerProbe(options.gadgetDir, options.udcDir) }),
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
    });
    const key = port.start();
    return {
      key,
      port,
      ready: port.ready,
      stop: () => {
        port.close();
        lock.release();
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from "rxjs";
import { layerLogger } from "../log.js";
import type { HidBackend } from "./backend.js";
import { type DeviceKind, type DiscoveredDevice, listAllDevices } from "./discovery.js";

const log = layerLogger("transport");

export interface DeviceEvent {
  readonly type: "attach" | "detach";
  readonly kind: DeviceKind;
  readonly serial: string;
  readonly path: string;
  readonly at: Date;
}

export interface WatchOptions {
  /** Wait this long after the last USB event before re-enumerating (hidraw nodes appear late). */
  readonly debounceMs?: number;
  /** Poll interval when native hotplug is unavailable or `polling` is set. */
  readonly pollMs?: number;
  /** Never register USB listeners; poll instead (containers without udev events). */
  readonly polling?: boolean;
  /** For tests: virtual time. */
  readonly scheduler?: SchedulerLike;
}

type Listener = () => void;

/** The follow-up enumeration runs this many debounce periods after the first. */
const LATE_NODE_FACTOR = 4;

/**
 * Keys and CodeMeter sticks coming and going. USB attach/detach events only trigger a
 * debounced re-enumeration; the events emitted come from diffing two enumerations by path, so
 * a device that re-enumerates (mode switch) or whose hidraw node appears late is reported
 * correctly. Devices present at subscription come first, as attach events.
 */
export function watchDevices(backend: HidBackend, options: WatchOptions = {}): Observable<DeviceEvent> {
  const debounceMs = options.debounceMs ?? 250;
  const pollMs = options.pollMs ?? 2_000;
  const scheduler = options.scheduler ?? asyncScheduler;

  return new Observable<DeviceEvent>((subscriber) => {
    let known = new Map<string, DiscoveredDevice>();
    let stopped = false;
    let running = false;
    let rerun = false;
    let debounce: Subscription | undefined;
    let poll: Subscription | undefined;

    const emit = (type: DeviceEvent["type"], device: DiscoveredDevice, at: Date): void => {
      subscriber.next({ type, kind: device.kind, serial: device.serial, path: device.path, at });
    };

    const enumerate = async (): Promise<void> => {
      if (running) {
        rerun = true;
        return;
      }
      running = true;
      try {
        do {
          rerun = false;
          let devices: DiscoveredDevice[];
          try {
            devices = await listAllDevices(backend);
          } catch (error) {
            // A failed enumeration is retried by the next event or poll; the watch stays up.
            log.warn("device enumeration failed", { error: String(error) });
            continue;
          }
          if (stopped) return;
          const at = new Date(scheduler.now());
          const next = new Map(devices.map((device) => [device.path, device]));
          for (const [path, device] of known) {
            const now = next.get(path);
            if (now === undefined || now.serial !== device.serial || now.kind !== device.kind)
              emit("detach", device, at);
          }
          for (const [path, device] of next) {
            const before = known.get(path);
            if (before === undefined || before.serial !== device.serial || before.kind !== device.kind) {
              emit("attach", device, at);
            }
          }
          known = next;
        } while (rerun && !stopped);
      } finally {
        running = false;
      }
    };

    // A USB event can precede the hidraw node by a while: enumerate after the debounce, and once
    // more a little later so a slow node is still found without waiting for another event.
    const trigger: Listener = () => {
      debounce?.unsubscribe();
      debounce = scheduler.schedule(() => {
        void enumerate();
        debounce = scheduler.schedule(() => {
          debounce = undefined;
          void enumerate();
        }, debounceMs * LATE_NODE_FACTOR);
      }, debounceMs);
    };
    // Leading edge for detach: a device that is gone needs no settling time, and borrows on it are
    // at risk from that moment; the debounced pass still follows for a re-enumeration (mode switch).
    const detached: Listener = () => {
      void enumerate();
      trigger();
    };

    const usbEvents = backend.usb.usb;
    let listening = false;
    if (options.polling !== true) {
      try {
        usbEvents.on("attach", trigger);
        usbEvents.on("detach", detached);
        listening = true;
      } catch (error) {
        usbEvents.off("attach", trigger);
        usbEvents.off("detach", detached);
        log.info("USB hotplug is unavailable; polling for devices", { error: String(error), pollMs });
      }
    }
    if (!listening) {
      poll = scheduler.schedule(function (this: { schedule(state?: unknown, delay?: number): unknown }) {
        void enumerate();
        this.schedule(undefined, pollMs);
      }, pollMs);
    }
    void enumerate();

    return () => {
      stopped = true;
      debounce?.unsubscribe();
      poll?.unsubscribe();
      if (listening) {
        usbEvents.off("attach", trigger);
        usbEvents.off("detach", detached);
      }
    };
  });
}

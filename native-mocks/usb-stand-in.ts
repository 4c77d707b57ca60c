import { EventEmitter } from "node:events";
import type { Subscription } from "rxjs";
import type { BusEvent, VirtualBus, VirtualUsbDevice } from "./virtual-bus.js";

const HOTPLUG_EVENTS = new Set<string | symbol>(["attach", "detach"]);

/**
 * The `usb` object of the `usb` 2 package: an EventEmitter with "attach" and "detach". As in the
 * real module, hotplug starts with the first such listener and stops with the last, and events
 * arrive asynchronously (the real ones come from libusb's thread), never inside the I/O call
 * that caused them.
 */
export class UsbEmitterStandIn extends EventEmitter {
  private subscription: Subscription | undefined;
  private readonly pending = new Set<NodeJS.Immediate>();

  constructor(private readonly bus: VirtualBus) {
    super();
    this.on("newListener", (event: string | symbol) => {
      if (HOTPLUG_EVENTS.has(event)) this.startHotplug();
    });
    this.on("removeListener", (event: string | symbol) => {
      if (HOTPLUG_EVENTS.has(event) && this.listenerCount("attach") + this.listenerCount("detach") === 0) {
        this.stopHotplug();
      }
    });
  }

  /** True while attach/detach listeners keep hotplug running. */
  get hotplugActive(): boolean {
    return this.subscription !== undefined;
  }

  /** Present in usb 2; the stand-in's events never hold the process open anyway. */
  unrefHotplugEvents(): void {}

  refHotplugEvents(): void {}

  private startHotplug(): void {
    if (this.subscription !== undefined) return;
    this.subscription = this.bus.events$.subscribe((event: BusEvent) => {
      const immediate = setImmediate(() => {
        this.pending.delete(immediate);
        this.emit(event.type, event.device);
      });
      this.pending.add(immediate);
    });
  }

  private stopHotplug(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    for (const immediate of this.pending) clearImmediate(immediate);
    this.pending.clear();
  }
}

export interface UsbStandIn {
  readonly usb: UsbEmitterStandIn;
  getDeviceList(): VirtualUsbDevice[];
  findByIds(vendorId: number, productId: number): VirtualUsbDevice | undefined;
}

/** Stands in for `import { usb, getDeviceList } from "usb"` over `bus`. */
export function createUsbStandIn(bus: VirtualBus): UsbStandIn {
  return {
    usb: new UsbEmitterStandIn(bus),
    getDeviceList: () => bus.usbDevices(),
    findByIds: (vendorId, productId) =>
      bus
        .usbDevices()
        .find(
          (device) => device.deviceDescriptor.idVendor === vendorId && device.deviceDescriptor.idProduct === productId,
        ),
  };
}

import { type Observable, Subject, type Subscription } from "rxjs";
import { type CodeMeterStickOptions, VirtualCodeMeterStick } from "./codemeter-stick.js";
import { VirtualKeyError, VirtualKeyErrorCode } from "./errors.js";
import type { HostPort } from "./host-port.js";
import { VirtualKey, type VirtualKeyOptions } from "./virtual-key.js";

/** Anything that can sit on the bus. */
export type BusDevice = VirtualKey | VirtualCodeMeterStick;

/** The fields of a `usb` 2 Device that a transport reads, plus string descriptors. */
export interface VirtualUsbDevice {
  readonly busNumber: number;
  readonly deviceAddress: number;
  readonly portNumbers: number[];
  readonly deviceDescriptor: {
    readonly bLength: number;
    readonly bDescriptorType: number;
    readonly bcdUSB: number;
    readonly bDeviceClass: number;
    readonly bDeviceSubClass: number;
    readonly bDeviceProtocol: number;
    readonly bMaxPacketSize0: number;
    readonly idVendor: number;
    readonly idProduct: number;
    readonly bcdDevice: number;
    readonly iManufacturer: number;
    readonly iProduct: number;
    readonly iSerialNumber: number;
    readonly bNumConfigurations: number;
  };
  open(): void;
  close(): void;
  getStringDescriptor(index: number, callback: (error?: Error, value?: string) => void): void;
}

/** One HID interface as node-hid's devicesAsync() describes it. */
export interface VirtualHidDeviceInfo {
  vendorId: number;
  productId: number;
  path: string;
  serialNumber: string;
  manufacturer: string;
  product: string;
  release: number;
  interface: number;
  usagePage: number;
  usage: number;
}

export interface BusEvent {
  readonly type: "attach" | "detach";
  readonly serial: string;
  readonly device: VirtualUsbDevice;
}

export interface VirtualBusOptions {
  /** After an attach event, the HID node becomes openable only this much later (real hotplug races). Default 0. */
  readonly hidReadyDelayMs?: number;
}

export type CreateKeyOptions = VirtualKeyOptions & {
  /** Plug the key in right away (default true). */
  readonly plugged?: boolean;
};

interface Attachment {
  readonly path: string;
  readonly usbDevice: VirtualUsbDevice;
  hidReady: boolean;
  readyTimer: NodeJS.Timeout | undefined;
}

interface Slot {
  readonly device: BusDevice;
  readonly port: number;
  readonly subscription: Subscription;
  attachment: Attachment | undefined;
}

const BCD_DEVICE = 0x0100;

/**
 * A USB bus with virtual keys and CodeMeter sticks. Plugging assigns a fresh device address and
 * hidraw path (as the kernel does on every enumeration); attach and detach are published on
 * `events$` in the shape of the `usb` package's events.
 */
export class VirtualBus {
  private readonly slots = new Map<string, Slot>();
  private readonly eventsSubject = new Subject<BusEvent>();
  readonly events$: Observable<BusEvent> = this.eventsSubject.asObservable();
  private hidReadyDelayMs: number;
  private nextPort = 1;
  private nextAddress = 1;
  private nextHidraw = 0;

  constructor(options: VirtualBusOptions = {}) {
    this.hidReadyDelayMs = options.hidReadyDelayMs ?? 0;
  }

  setHidReadyDelay(ms: number): void {
    this.hidReadyDelayMs = ms;
  }

  createKey(options: CreateKeyOptions): VirtualKey {
    this.ensureFree(options.serial);
    const key = new VirtualKey(options);
    this.add(key);
    if (options.plugged ?? true) key.plug();
    return key;
  }

  addCodeMeterStick(options: CodeMeterStickOptions & { readonly plugged?: boolean }): VirtualCodeMeterStick {
    this.ensureFree(options.serial);
    const stick = new VirtualCodeMeterStick(options);
    this.add(stick);
    if (options.plugged ?? true) stick.plug();
    return stick;
  }

  /** Takes a device off the bus for good (unplugging it first). */
  remove(serial: string): void {
    const slot = this.slot(serial);
    slot.device.unplug();
    slot.subscription.unsubscribe();
    this.slots.delete(serial);
  }

  plug(serial: string): void {
    this.slot(serial).device.plug();
  }

  unplug(serial: string): void {
    this.slot(serial).device.unplug();
  }

  key(serial: string): VirtualKey {
    const device = this.slot(serial).device;
    if (!(device instanceof VirtualKey)) {
      throw new VirtualKeyError(VirtualKeyErrorCode.UNKNOWN_DEVICE, `${serial} is not a keybridge key`);
    }
    return device;
  }

  keys(): VirtualKey[] {
    return [...this.slots.values()].flatMap((slot) => (slot.device instanceof VirtualKey ? [slot.device] : []));
  }

  devices(): BusDevice[] {
    return [...this.slots.values()].map((slot) => slot.device);
  }

  /** Plugged devices, as `usb.getDeviceList()` returns them. */
  usbDevices(): VirtualUsbDevice[] {
    return [...this.slots.values()].flatMap((slot) =>
      slot.attachment === undefined ? [] : [slot.attachment.usbDevice],
    );
  }

  /** HID interfaces that can be opened now, as node-hid's devicesAsync() lists them. */
  hidDevices(): VirtualHidDeviceInfo[] {
    const list: VirtualHidDeviceInfo[] = [];
    for (const slot of this.slots.values()) {
      const attachment = slot.attachment;
      const device = slot.device;
      if (attachment === undefined || !attachment.hidReady || !device.hasHidInterface) continue;
      list.push({
        vendorId: device.vendorId,
        productId: device.productId,
        path: attachment.path,
        serialNumber: device.serial,
        manufacturer: device.manufacturer,
        product: device.product,
        release: BCD_DEVICE,
        interface: 0,
        usagePage: device.usagePage,
        usage: device.usage,
      });
    }
    return list;
  }

  /** Opens a HID path listed by hidDevices(); UNKNOWN_DEVICE when there is none (yet). */
  openHid(path: string): HostPort {
    for (const slot of this.slots.values()) {
      const attachment = slot.attachment;
      if (attachment?.path !== path || !attachment.hidReady || !slot.device.hasHidInterface) continue;
      return slot.device.open();
    }
    throw new VirtualKeyError(VirtualKeyErrorCode.UNKNOWN_DEVICE, `no HID device at ${path}`, { details: { path } });
  }

  /** Serial of the device currently at `path`, if any. */
  serialAt(path: string): string | undefined {
    for (const slot of this.slots.values()) if (slot.attachment?.path === path) return slot.device.serial;
    return undefined;
  }

  /**
   * Powers the bus down: every device is unplugged (without events: listeners are detached first),
   * so no firmware timer (a stall, a keepalive) keeps the process alive. Stored key state stays.
   */
  close(): void {
    for (const slot of this.slots.values()) {
      slot.subscription.unsubscribe();
      if (slot.attachment?.readyTimer !== undefined) clearTimeout(slot.attachment.readyTimer);
      slot.device.unplug();
    }
    this.slots.clear();
    this.eventsSubject.complete();
  }

  private ensureFree(serial: string): void {
    if (this.slots.has(serial)) {
      throw new VirtualKeyError(VirtualKeyErrorCode.DUPLICATE_SERIAL, `a device with serial ${serial} is on the bus`);
    }
  }

  private slot(serial: string): Slot {
    const slot = this.slots.get(serial);
    if (slot === undefined) {
      throw new VirtualKeyError(VirtualKeyErrorCode.UNKNOWN_DEVICE, `no device with serial ${serial} on the bus`, {
        details: { serial },
      });
    }
    return slot;
  }

  private add(device: BusDevice): void {
    const port = this.nextPort++;
    const subscription = device.plugged$.subscribe((plugged) => {
      const slot = this.slots.get(device.serial);
      if (slot !== undefined) {
        if (plugged) this.attach(slot);
        else this.detach(slot);
      }
    });
    this.slots.set(device.serial, { device, port, subscription, attachment: undefined });
  }

  private attach(slot: Slot): void {
    if (slot.attachment !== undefined) return;
    const usbDevice = this.usbDeviceFor(slot);
    const attachment: Attachment = {
      path: `/virtual/hidraw${this.nextHidraw++}`,
      usbDevice,
      hidReady: this.hidReadyDelayMs <= 0,
      readyTimer: undefined,
    };
    if (!attachment.hidReady) {
      attachment.readyTimer = setTimeout(() => {
        attachment.readyTimer = undefined;
        attachment.hidReady = true;
      }, this.hidReadyDelayMs);
    }
    slot.attachment = attachment;
    this.eventsSubject.next({ type: "attach", serial: slot.device.serial, device: usbDevice });
  }

  private detach(slot: Slot): void {
    const attachment = slot.attachment;
    if (attachment === undefined) return;
    if (attachment.readyTimer !== undefined) clearTimeout(attachment.readyTimer);
    slot.attachment = undefined;
    this.eventsSubject.next({ type: "detach", serial: slot.device.serial, device: attachment.usbDevice });
  }

  private usbDeviceFor(slot: Slot): VirtualUsbDevice {
    const device = slot.device;
    const address = this.nextAddress;
    this.nextAddress = (this.nextAddress % 127) + 1;
    const strings = new Map<number, string>([
      [1, device.manufacturer],
      [2, device.product],
      [3, device.serial],
    ]);
    const isAttached = () => this.slots.get(device.serial)?.attachment?.usbDevice === usbDevice;
    const usbDevice: VirtualUsbDevice = {
      busNumber: 1,
      deviceAddress: address,
      portNumbers: [slot.port],
      deviceDescriptor: {
        bLength: 18,
        bDescriptorType: 1,
        bcdUSB: 0x0200,
        bDeviceClass: 0,
        bDeviceSubClass: 0,
        bDeviceProtocol: 0,
        bMaxPacketSize0: 64,
        idVendor: device.vendorId,
        idProduct: device.productId,
        bcdDevice: BCD_DEVICE,
        iManufacturer: 1,
        iProduct: 2,
        iSerialNumber: 3,
        bNumConfigurations: 1,
      },
      open() {
        if (!isAttached()) throw new Error("LIBUSB_ERROR_NO_DEVICE");
      },
      close() {},
      getStringDescriptor(index, callback) {
        setImmediate(() => {
          if (!isAttached()) callback(new Error("LIBUSB_ERROR_NO_DEVICE"));
          else callback(undefined, strings.get(index));
        });
      },
    };
    return usbDevice;
  }
}

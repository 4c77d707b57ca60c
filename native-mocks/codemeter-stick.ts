import { type Observable, Subject } from "rxjs";
import { CODEMETER_PRODUCT_IDS, CODEMETER_VENDOR_ID } from "../src/protocol/index.js";
import { VirtualKeyError, VirtualKeyErrorCode } from "./errors.js";
import { HostPort } from "./host-port.js";

export interface CodeMeterStickOptions {
  readonly serial: string;
  /** One of CODEMETER_PRODUCT_IDS; default 0x2af9, CmStick (HID). */
  readonly productId?: number;
}

/**
 * A CodeMeter stick on the virtual bus: enumerates like one, and never answers (its protocol is
 * proprietary and keybridge never speaks it). Mass-storage models have no HID interface.
 */
export class VirtualCodeMeterStick {
  readonly serial: string;
  readonly vendorId = CODEMETER_VENDOR_ID;
  readonly productId: number;
  readonly model: string;
  readonly usagePage = 0xff00;
  readonly usage = 0x01;
  readonly manufacturer = "WIBU-SYSTEMS AG";
  readonly product: string;
  readonly hasHidInterface: boolean;
  private isPlugged = false;
  private readonly ports = new Set<HostPort>();
  private readonly pluggedSubject = new Subject<boolean>();
  readonly plugged$: Observable<boolean> = this.pluggedSubject.asObservable();

  constructor(options: CodeMeterStickOptions) {
    const productId = options.productId ?? 0x2af9;
    const known = CODEMETER_PRODUCT_IDS.find((entry) => entry.pid === productId);
    if (known === undefined) {
      throw new VirtualKeyError(
        VirtualKeyErrorCode.BAD_OPTION,
        `0x${productId.toString(16)} is not a known CodeMeter product id`,
      );
    }
    this.serial = options.serial;
    this.productId = productId;
    this.model = known.model;
    this.product = known.model;
    this.hasHidInterface = !known.model.includes("mass storage");
  }

  get plugged(): boolean {
    return this.isPlugged;
  }

  plug(): void {
    if (this.isPlugged) return;
    this.isPlugged = true;
    this.pluggedSubject.next(true);
  }

  unplug(): void {
    if (!this.isPlugged) return;
    this.isPlugged = false;
    const gone = new VirtualKeyError(VirtualKeyErrorCode.DEVICE_UNPLUGGED, `stick ${this.serial} was unplugged`);
    for (const port of this.ports) port.fail(gone);
    this.ports.clear();
    this.pluggedSubject.next(false);
  }

  /** Writes are taken and ignored; reads only ever time out. */
  open(): HostPort {
    if (!this.isPlugged) {
      throw new VirtualKeyError(VirtualKeyErrorCode.DEVICE_UNPLUGGED, `stick ${this.serial} is not plugged in`);
    }
    const port = new HostPort(
      () => undefined,
      (closed) => this.ports.delete(closed),
    );
    this.ports.add(port);
    return port;
  }
}

import {
  BehaviorSubject,
  defer,
  distinctUntilChanged,
  filter,
  from,
  map,
  type Observable,
  startWith,
  switchMap,
} from "rxjs";
import { CODEMETER_VENDOR_ID } from "../../protocol/constants.js";
import { type HidBackend, loadHidBackend } from "../../transport/backend.js";
import { type DiscoveredDevice, listCodeMeterSticks } from "../../transport/discovery.js";
import { type DeviceEvent, type WatchOptions, watchDevices } from "../../transport/hotplug.js";
import type { StickSighting } from "../model/inputs.js";

/** CmSticks on USB: the full list of those present, again at every change. */
export interface StickSource {
  readonly sticks$: Observable<readonly StickSighting[]>;
}

/** What a discovery reports of a device; `DiscoveredDevice` of the transport fits. */
export type SeenDevice = Pick<DiscoveredDevice, "kind" | "serial" | "path" | "vendorId" | "productId" | "model">;

function sightingsOf(devices: readonly SeenDevice[]): StickSighting[] {
  return devices
    .filter((device) => device.kind === "codemeter" || device.vendorId === CODEMETER_VENDOR_ID)
    .map((device) => ({ serial: device.serial, model: device.model, path: device.path, productId: device.productId }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function sameSightings(a: readonly StickSighting[], b: readonly StickSighting[]): boolean {
  return a.length === b.length && a.every((stick, i) => stick.path === b[i]?.path && stick.serial === b[i]?.serial);
}

/**
 * The adapter the bridge feeds from the discovery it already runs: every list of devices it
 * found becomes the list of CmSticks (vendor 0x064F) present, repeated only when it changed.
 */
export function stickSourceFromDevices(found$: Observable<readonly SeenDevice[]>): StickSource {
  return { sticks$: found$.pipe(map(sightingsOf), distinctUntilChanged(sameSightings)) };
}

/**
 * CmSticks straight from USB, for use without the bridge: hotplug events trigger a fresh
 * enumeration of the sticks (never opened: keybridge does not speak their protocol).
 */
export function usbStickSource(backend: HidBackend, options: WatchOptions = {}): StickSource {
  const changes$: Observable<DeviceEvent | null> = watchDevices(backend, options).pipe(
    filter((event) => event.kind === "codemeter"),
    startWith(null),
  );
  return stickSourceFromDevices(changes$.pipe(switchMap(() => defer(() => from(listCodeMeterSticks(backend))))));
}

/**
 * The CmSticks present now, once: the transport's discovery over `backend` (default the real
 * node-hid and usb, loaded here). Rejects when USB cannot be listed.
 */
export async function listStickSightings(backend?: HidBackend): Promise<StickSighting[]> {
  return sightingsOf(await listCodeMeterSticks(backend ?? (await loadHidBackend())));
}

/** Sticks plugged and unplugged by hand (tests, and a simulated installation without a bus). */
export class ManualStickSource implements StickSource {
  readonly #sticks = new BehaviorSubject<readonly StickSighting[]>([]);
  readonly sticks$: Observable<readonly StickSighting[]> = this.#sticks.asObservable();

  plug(serial: string, model = "CmStick (HID)", productId = 0x2af9): void {
    if (this.#sticks.value.some((stick) => stick.serial === serial)) return;
    this.#sticks.next([...this.#sticks.value, { serial, model, path: `manual:${serial}`, productId }]);
  }

  unplug(serial: string): void {
    this.#sticks.next(this.#sticks.value.filter((stick) => stick.serial !== serial));
  }
}

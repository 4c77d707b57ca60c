import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  bindGadget,
  boundUdc,
  type GadgetIdentity,
  type GadgetParameters,
  gadgetParameters,
  removeGadgetConfig,
  writeGadgetConfig,
} from "../gadget-port.js";
import { BoardKeyError, BoardKeyErrorCode } from "./errors.js";
import { readKey } from "./key-file.js";

/** Where a board keeps its gadget and finds its device controllers, by default. */
export const DEFAULT_GADGET_DIR = "/sys/kernel/config/usb_gadget/keybridge";
export const DEFAULT_UDC_DIR = "/sys/class/udc";
export const DEFAULT_DEVICE = "/dev/hidg0";

/**
 * The device controller to bind to: the one named, which must exist, or the board's only one.
 * A Pi has one (e.g. fe980000.usb on a Pi 4, 3f980000.usb on a Zero 2 W), the VM's is dummy_udc.0.
 */
export function resolveUdc(requested: string | undefined, udcDir: string = DEFAULT_UDC_DIR): string {
  let available: string[];
  try {
    available = readdirSync(udcDir).sort();
  } catch {
    // No /sys/class/udc at all: the kernel has no device-controller support loaded.
    available = [];
  }
  if (requested !== undefined && requested !== "") {
    if (available.includes(requested)) return requested;
    throw new BoardKeyError(
      BoardKeyErrorCode.UDC_NOT_FOUND,
      `no USB device controller ${requested} in ${udcDir} (there: ${available.join(", ") || "none"})`,
      { details: { requested, available } },
    );
  }
  if (available.length === 1) return available[0]!;
  if (available.length === 0) {
    throw new BoardKeyError(
      BoardKeyErrorCode.UDC_NOT_FOUND,
      `no USB device controller in ${udcDir}: the board's USB port is not in gadget mode ` +
        "(on a Raspberry Pi: dtoverlay=dwc2 in config.txt and modules-load=dwc2 in cmdline.txt, then reboot)",
      { details: { udcDir } },
    );
  }
  throw new BoardKeyError(
    BoardKeyErrorCode.UDC_NOT_FOUND,
    `several USB device controllers (${available.join(", ")}); name one with --udc or KEYBRIDGE_KEY_UDC`,
    { details: { available } },
  );
}

export interface SetupOptions {
  readonly statePath: string;
  readonly gadgetDir: string;
  readonly udc?: string;
  readonly udcDir?: string;
  readonly identity?: GadgetIdentity;
}

export interface SetupResult {
  readonly params: GadgetParameters;
  readonly udc: string;
  /** True when a gadget left from before (a crash, a stop without teardown) was removed first. */
  readonly replaced: boolean;
}

/**
 * Presents the key on USB: the configfs gadget from the protocol constants (VID, PID, report
 * descriptor) and the key's state (serial, firmware version), bound to the device controller.
 * A gadget already there is removed first, so setup can always be run again.
 */
export function setupGadget(options: SetupOptions): SetupResult {
  const key = readKey(options.statePath);
  const gadgets = dirname(options.gadgetDir);
  if (!existsSync(gadgets)) {
    throw new BoardKeyError(
      BoardKeyErrorCode.NO_GADGET_SUPPORT,
      `${gadgets} does not exist: configfs is not mounted or libcomposite is not loaded ` +
        "(modprobe libcomposite; to load it at boot, put libcomposite in /etc/modules-load.d/keybridge-key.conf)",
      { details: { path: gadgets } },
    );
  }
  const udc = resolveUdc(options.udc, options.udcDir);
  const replaced = removeGadgetConfig(options.gadgetDir);
  const params = gadgetParameters(key, options.identity);
  writeGadgetConfig(options.gadgetDir, params);
  bindGadget(options.gadgetDir, udc);
  return { params, udc, replaced };
}

/** Unplugs the key from the host and removes the gadget; false when there was none. */
export function teardownGadget(gadgetDir: string): boolean {
  return removeGadgetConfig(gadgetDir);
}

export interface GadgetState {
  readonly dir: string;
  readonly present: boolean;
  /** The controller it is bound to, or null when unbound or absent. */
  readonly udc: string | null;
  /** That controller's bus state as the kernel reports it ("configured" when a host uses the key). */
  readonly udcState: string | null;
}

export function gadgetState(gadgetDir: string, udcDir: string = DEFAULT_UDC_DIR): GadgetState {
  const udc = boundUdc(gadgetDir);
  let udcState: string | null = null;
  if (udc !== undefined && udc !== "" && existsSync(join(udcDir, udc, "state"))) {
    udcState = readFileSync(join(udcDir, udc, "state"), "utf8").trim();
  }
  return {
    dir: gadgetDir,
    present: udc !== undefined,
    udc: udc === undefined || udc === "" ? null : udc,
    udcState,
  };
}

import { isCodedError } from "../../errors.js";
import { type AccessProblem, ownAccessProblem, serviceAccessProblem } from "./device-access.js";
import { DEVICE_GROUP } from "./group-check.js";
import { type FoundDevice, listUsbDevices } from "./local-access.js";
import { type CheckOutcome, type DoctorCheck, fail, ok, warn } from "./types.js";
import { installRulesFix, SHIPPED_RULES_FILE } from "./udev-check.js";

export interface DevicesCheckInputs {
  platform?: NodeJS.Platform;
  /** Default: the transport's discovery over the real node-hid/usb backend. */
  listDevices?: () => Promise<FoundDevice[]>;
  /**
   * Checked instead of opening the key, which could disturb a running daemon's exchange. Default:
   * this user's access, or for root (who may open anything) the keybridge service's.
   */
  accessProblem?: AccessProblem;
  shippedRulesFile?: string;
}

function describe(device: FoundDevice): string {
  const serial = device.serial === "" ? "" : ` ${device.serial}`;
  return `${device.model}${serial} (${device.path})`;
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

export async function checkDevices(inputs: DevicesCheckInputs = {}): Promise<CheckOutcome> {
  const platform = inputs.platform ?? process.platform;
  let devices: FoundDevice[];
  try {
    devices = await (inputs.listDevices ?? (() => listUsbDevices()))();
  } catch (error) {
    const code = isCodedError(error) ? error.code : "";
    if (code === "HID_BACKEND_UNAVAILABLE") {
      const cause = (error as Error).cause;
      return fail(
        `USB HID is unavailable: ${cause instanceof Error ? cause.message : (error as Error).message}`,
        "fix the native-modules check first (node-hid and usb must load)",
      );
    }
    return fail(
      `cannot list USB devices: ${(error as Error).message}`,
      "check that /sys/bus/usb and /dev/bus/usb are present (in a container or VM: pass the USB device through)",
    );
  }
  const keys = devices.filter((device) => device.kind === "keybridge");
  const sticks = devices.filter((device) => device.kind === "codemeter");
  if (devices.length === 0) {
    return warn("no keybridge key and no CodeMeter stick found", "plug in the key (and check `lsusb` lists it)");
  }

  const accessProblem = inputs.accessProblem ?? (process.getuid?.() === 0 ? serviceAccessProblem() : ownAccessProblem);
  const denied: string[] = [];
  let checked = 0;
  for (const key of keys) {
    // hidraw nodes are files; other backends' paths (libusb, IOKit, Windows) cannot be checked without opening.
    if (platform !== "linux" || !key.path.startsWith("/dev/")) continue;
    checked += 1;
    const problem = await accessProblem(key.path);
    if (problem !== undefined) denied.push(`${describe(key)}: ${problem}`);
  }
  const listed = (devices: FoundDevice[]) => (devices.length > 0 ? `: ${devices.map(describe).join(", ")}` : "");
  const found =
    `found ${count(keys.length, "keybridge key")}${listed(keys)}; ` +
    `${count(sticks.length, "CodeMeter stick")}${listed(sticks)}`;
  if (denied.length > 0) {
    return fail(
      `cannot open ${denied.join(", ")} — a permissions problem, not a broken key; ${found}`,
      `${installRulesFix(inputs.shippedRulesFile ?? SHIPPED_RULES_FILE)}\n` +
        `to open keys from your own account too: sudo usermod -aG ${DEVICE_GROUP} $USER, then log in again`,
    );
  }
  const accessNote = checked > 0 ? " (read/write access ok)" : "";
  return ok(`${found}${accessNote}`);
}

export function devicesCheck(inputs?: DevicesCheckInputs): DoctorCheck {
  return { id: "devices", title: "USB devices", run: () => checkDevices(inputs) };
}

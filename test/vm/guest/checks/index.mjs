// The checks the guest runs, in order. A new check is a module exporting
// `{ name, timeoutMs?, run(ctx) }` whose run returns a JSON-able detail, throws CheckFailed, or
// throws CheckSkipped when the build cannot run it; add it here. Checks that unplug need not
// replug: the runner restores the gadget after each.
import codemeterStick from "./codemeter-stick.mjs";
import conformance from "./conformance.mjs";
import daemonRealMode from "./daemon-real-mode.mjs";
import exchangeLatency from "./exchange-latency.mjs";
import hotplugRecovery from "./hotplug-recovery.mjs";
import keyService from "./key-service.mjs";
import nodeHidLists from "./node-hid-lists.mjs";
import rawExchange from "./raw-exchange.mjs";
import udevPermissions from "./udev-permissions.mjs";
import unplugReadInFlight from "./unplug-read-in-flight.mjs";
import usbHotplug from "./usb-hotplug.mjs";
import usbLists from "./usb-lists.mjs";
import vendorSignedUpdates from "./vendor-signed-updates.mjs";

export const CHECKS = [
  udevPermissions,
  nodeHidLists,
  usbLists,
  codemeterStick,
  rawExchange,
  exchangeLatency,
  // Wipes the key and provisions it anew: before the checks that borrow.
  vendorSignedUpdates,
  // Before conformance, whose clock-control cases move the key's clock by months.
  daemonRealMode,
  conformance,
  hotplugRecovery,
  usbHotplug,
  unplugReadInFlight,
  // Stops and restarts the key as systemd does: last, so a failure here disturbs no other check.
  keyService,
];

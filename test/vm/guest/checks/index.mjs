// The checks the guest runs, in order. A new check is a module exporting
// `{ name, timeoutMs?, run(ctx) }` whose run returns a JSON-able detail or throws CheckFailed;
// add it here. Checks that unplug need not replug: the runner restores the gadget after each.
import exchangeLatency from "./exchange-latency.mjs";
import nodeHidLists from "./node-hid-lists.mjs";
import rawExchange from "./raw-exchange.mjs";
import udevPermissions from "./udev-permissions.mjs";
import unplugReadInFlight from "./unplug-read-in-flight.mjs";
import usbHotplug from "./usb-hotplug.mjs";
import usbLists from "./usb-lists.mjs";

export const CHECKS = [
  udevPermissions,
  nodeHidLists,
  usbLists,
  rawExchange,
  exchangeLatency,
  usbHotplug,
  unplugReadInFlight,
];

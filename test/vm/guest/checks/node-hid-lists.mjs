// node-hid (hidraw backend) enumerates the key with its serial and vendor usage page: what
// discovery filters on.
import { CheckFailed } from "../lib/context.mjs";

export default {
  name: "node-hid-lists",
  async run(ctx) {
    const { vendorId, productId, serial, usagePage } = ctx.config;
    const devices = await ctx.hid().devicesAsync();
    const ours = devices.filter((d) => d.vendorId === vendorId && d.productId === productId);
    const match = ours.find((d) => d.serialNumber === serial && d.usagePage === usagePage);
    if (!match) throw new CheckFailed("no HID device with the key's VID/PID, serial and usage page", { ours });
    const { path, serialNumber, manufacturer, product, usage, interface: iface } = match;
    return { path, serialNumber, manufacturer, product, usagePage: `0x${match.usagePage.toString(16)}`, usage, iface };
  },
};

// udev applied keybridge's rules: the gadget's hidraw node and its libusb node belong to the
// daemon's group with mode 0660, as set by the real udevd from /etc/udev/rules.d.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { CheckFailed } from "../lib/context.mjs";

export default {
  name: "udev-permissions",
  async run(ctx) {
    const { group } = ctx.config;
    const gids = new Map(
      readFileSync("/etc/group", "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split(":"))
        .map(([name, , gid]) => [Number(gid), name]),
    );
    const hidraw = await ctx.waitFor("the gadget's hidraw node", () => ctx.findHidraw());
    ctx.settleUdev();
    const usbDevice = ctx.findUsbDevice();
    if (!usbDevice) throw new CheckFailed("sysfs shows no USB device with the key's VID/PID");
    const nodes = [`/dev/${hidraw}`, usbDevice.devnode].map((path) => {
      const stat = statSync(path);
      return { path, mode: (stat.mode & 0o777).toString(8).padStart(4, "0"), group: gids.get(stat.gid) ?? stat.gid };
    });
    const rules = readdirSync("/etc/udev/rules.d");
    const wrong = nodes.filter((n) => n.mode !== "0660" || n.group !== group);
    if (wrong.length > 0) throw new CheckFailed(`expected group ${group} and mode 0660`, { nodes, rules });
    return { nodes, rules };
  },
};

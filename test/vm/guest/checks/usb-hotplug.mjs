// A real USB disconnect and reconnect (the gadget leaves and rejoins the controller) reach the
// `usb` module as detach and attach events, the hidraw node comes back, and the key answers again.
import { CheckFailed, initExchange } from "../lib/context.mjs";

export default {
  name: "usb-hotplug",
  async run(ctx) {
    const { vendorId, productId } = ctx.config;
    const { usb } = ctx.usb(); // the EventEmitter that carries attach/detach
    const events = [];
    const isOurs = (device) =>
      device.deviceDescriptor?.idVendor === vendorId && device.deviceDescriptor?.idProduct === productId;
    const onAttach = (device) => events.push({ type: "attach", ours: isOurs(device), at: performance.now() });
    const onDetach = (device) => events.push({ type: "detach", ours: isOurs(device), at: performance.now() });
    usb.on("attach", onAttach);
    usb.on("detach", onDetach);
    try {
      const hotplugSupport = usb._supportedHotplugEvents?.();
      const before = ctx.findHidraw();
      if (!before) throw new CheckFailed("no hidraw node before unplug");
      const udcState = { before: ctx.udcState() };
      const unpluggedAt = performance.now();
      ctx.unplug();
      const detach = await ctx.waitFor("a detach event", () => events.find((e) => e.type === "detach" && e.ours));
      await ctx.waitFor("the hidraw node to go", () => !ctx.findHidraw());
      udcState.unplugged = ctx.udcState();
      const pluggedAt = performance.now();
      ctx.replug();
      const attach = await ctx.waitFor("an attach event", () => events.find((e) => e.type === "attach" && e.ours));
      const after = await ctx.waitFor("the hidraw node to come back", () => ctx.findHidraw());
      udcState.replugged = ctx.udcState();
      const hidrawBackMs = performance.now() - pluggedAt;
      // The reconnected key must answer again, through a new handle.
      ctx.settleUdev();
      await ctx.ensureKey({ provisioned: false });
      const protocol = await ctx.dist("src/protocol/index.js");
      const device = await ctx.openHid();
      try {
        await initExchange(device, protocol);
      } finally {
        await device.close();
      }
      const round = (ms) => Math.round(ms * 10) / 10;
      return {
        hotplugSupport,
        hidraw: { before, after },
        udcState,
        detachEventMs: round(detach.at - unpluggedAt),
        attachEventMs: round(attach.at - pluggedAt),
        hidrawBackMs: round(hidrawBackMs),
        events: events.map((e) => `${e.type}${e.ours ? "" : "(other)"}`),
      };
    } finally {
      usb.off("attach", onAttach);
      usb.off("detach", onDetach);
    }
  },
};

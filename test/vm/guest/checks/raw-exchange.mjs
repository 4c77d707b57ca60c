// Reports cross the kernel's USB/HID path in both directions and reach the key's firmware on the
// gadget: raw INIT reports through HIDAsync write/read, each answered with the nonce it carried.
import { initExchange } from "../lib/context.mjs";

export default {
  name: "raw-exchange",
  async run(ctx) {
    await ctx.ensureKey({ provisioned: false });
    const protocol = await ctx.dist("src/protocol/index.js");
    const device = await ctx.openHid();
    try {
      const rounds = 16;
      const channels = new Set();
      for (let i = 0; i < rounds; i++) channels.add((await initExchange(device, protocol)).cid);
      return { rounds, reportSize: ctx.config.reportSize, distinctChannels: channels.size };
    } finally {
      await device.close();
    }
  },
};

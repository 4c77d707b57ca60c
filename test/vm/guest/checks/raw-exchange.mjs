// 64-byte reports go out through hidraw and come back from the key side unchanged.
import { CheckFailed, exchange, randomReport } from "../lib/context.mjs";

export default {
  name: "raw-exchange",
  async run(ctx) {
    await ctx.ensureResponder();
    const device = await ctx.openHid();
    try {
      const rounds = 16;
      for (let i = 0; i < rounds; i++) {
        const payload = randomReport(ctx.config.reportSize);
        const reply = await exchange(device, payload);
        if (!reply.equals(payload)) {
          throw new CheckFailed(`exchange ${i}: reply differs from the report sent`, {
            sent: payload.toString("hex"),
            received: reply.toString("hex"),
          });
        }
      }
      return { rounds, reportSize: ctx.config.reportSize };
    } finally {
      await device.close();
    }
  },
};

// Round-trip time of one report exchange over the kernel's USB/HID path (dummy_hcd, usbhid,
// hidraw, f_hid): a figure, not a pass mark; the check fails only on a wrong or missing reply.
import { CheckFailed, exchange, randomReport } from "../lib/context.mjs";

const WARMUP = 10;
const SAMPLES = 300;

export default {
  name: "exchange-latency",
  timeoutMs: 120_000,
  async run(ctx) {
    await ctx.ensureResponder();
    const device = await ctx.openHid();
    try {
      const times = [];
      for (let i = 0; i < WARMUP + SAMPLES; i++) {
        const payload = randomReport(ctx.config.reportSize);
        const start = performance.now();
        const reply = await exchange(device, payload);
        const elapsed = performance.now() - start;
        if (!reply.equals(payload)) throw new CheckFailed(`exchange ${i}: reply differs from the report sent`);
        if (i >= WARMUP) times.push(elapsed);
      }
      times.sort((a, b) => a - b);
      const rank = (p) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
      const round = (ms) => Math.round(ms * 1000) / 1000;
      return { n: times.length, p50: round(rank(50)), p99: round(rank(99)), max: round(times.at(-1)) };
    } finally {
      await device.close();
    }
  },
};

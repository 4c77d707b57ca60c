// Unplugging while a read waits makes node-hid's read fail (no event is emitted): the exact
// error text is what the transport maps to KeyDisconnected, so it is reported verbatim. A write
// and a close on the dead handle are reported too.
import { setTimeout as sleep } from "node:timers/promises";
import { CheckFailed } from "../lib/context.mjs";

const READ_TIMEOUT_MS = 5000;

export default {
  name: "unplug-read-in-flight",
  async run(ctx) {
    const device = await ctx.openHid();
    const detail = {};
    try {
      // Nothing is written, so the key side has nothing to answer: the read can only end by
      // timeout or by the unplug.
      const reading = device.read(READ_TIMEOUT_MS).then(
        (data) => ({ data }),
        (error) => ({ error }),
      );
      await sleep(200);
      const unpluggedAt = performance.now();
      ctx.unplug();
      const outcome = await reading;
      detail.settledAfterUnplugMs = Math.round(performance.now() - unpluggedAt);
      if (!outcome.error) {
        throw new CheckFailed("the read did not fail at unplug", { ...detail, bytes: outcome.data?.length ?? null });
      }
      detail.readError = outcome.error.message;
      detail.writeError = await device.write([0x00, ...Buffer.alloc(ctx.config.reportSize)]).then(
        (written) => `none (write returned ${written})`,
        (error) => error.message,
      );
      return detail;
    } finally {
      detail.closeError = await device.close().then(
        () => null,
        (error) => error.message,
      );
    }
  },
};

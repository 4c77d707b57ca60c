// The board's unit through a stop and a start, as systemd runs it: SIGTERM ends `keybridge key
// serve` with status 0, ExecStopPost= (`keybridge key teardown`) unplugs the key from the host and
// removes the gadget, ExecStartPre= (`keybridge key setup`) brings it back, ExecStart= serves it
// again, and the key kept everything (vendor, counter, licenses) through it. `keybridge key
// status` tells who serves the key and where it is bound.
import { existsSync } from "node:fs";
import { CheckFailed } from "../lib/context.mjs";
import { runUnitCommands } from "../lib/key-unit.mjs";

export default {
  name: "key-service",
  timeoutMs: 300_000,
  async run(ctx) {
    await ctx.ensureKey();
    const status = (label) => {
      const result = ctx.keybridge(["key", "status", "--json"]);
      if (result.status !== 0) throw new CheckFailed(`key status (${label}) failed`, { stderr: result.stderr });
      return result.json;
    };
    const before = status("served");
    if (before.servedBy === null || before.gadget.udc !== ctx.config.udc || before.gadget.udcState !== "configured") {
      throw new CheckFailed("key status does not show the served, bound key", { before });
    }

    await ctx.stopKey();
    runUnitCommands(ctx.unit, ctx.unit.stopPost);
    await ctx.waitFor("the hidraw node to go", () => !ctx.findHidraw());
    if (existsSync(ctx.config.configfsDir)) throw new CheckFailed("teardown left the gadget in configfs");
    const stopped = status("stopped");
    if (stopped.servedBy !== null || stopped.gadget.present)
      throw new CheckFailed("the stopped key looks served", { stopped });

    runUnitCommands(ctx.unit, ctx.unit.startPre);
    await ctx.waitFor("the hidraw node to come back", () => ctx.findHidraw(), 30_000);
    ctx.settleUdev();
    await ctx.ensureKey({ provisioned: false });
    const after = status("restarted");
    const kept = ["serial", "publicKey", "vendorPublicKey", "updateCounter", "licenseSetVersion"];
    const changed = kept.filter((field) => JSON.stringify(after[field]) !== JSON.stringify(before[field]));
    if (changed.length > 0)
      throw new CheckFailed("the key lost state across a stop and start", { changed, before, after });
    const { client } = await ctx.connect();
    try {
      const vendor = await client.vendorInfo();
      if (vendor.updateCounter !== before.updateCounter)
        throw new CheckFailed("the key answers another counter", { vendor });
    } finally {
      await client.close();
    }
    return { servedBy: [before.servedBy, after.servedBy], udc: after.gadget.udc, updateCounter: after.updateCounter };
  },
};

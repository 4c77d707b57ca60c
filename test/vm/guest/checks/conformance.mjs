// The conformance suite (rules K1-K9 and the vendor's signature, test/conformance, built to dist/)
// unchanged, through the production path: real node-hid over hidraw, NodeHidPort, Transport,
// KeyClient. The key is the firmware on the gadget; its clock and reboot are driven over the key
// process's control channel, and the guest's vendor secret signs updates, so the clock-control,
// vendor and destructive cases run too (the VM's key is disposable).
import { CheckFailed, VENDOR_KEY } from "../lib/context.mjs";

export default {
  name: "conformance",
  timeoutMs: 300_000,
  async run(ctx) {
    await ctx.ensureKey();
    const { runConformance, vendorFromFile } = await ctx.dist("test/conformance/index.js");
    const { client } = await ctx.connect();
    const lines = [];
    let outcomes;
    try {
      outcomes = await runConformance(
        {
          client,
          vendor: vendorFromFile(VENDOR_KEY),
          controls: {
            advanceClock: (ms) => ctx.keyControl("advanceClock", { ms }),
            reboot: () => ctx.keyControl("reboot"),
          },
        },
        {
          destructive: true,
          log: (line) => {
            lines.push(line);
            process.stderr.write(`conformance: ${line}\n`);
          },
        },
      );
    } finally {
      await client.close();
    }
    const count = (outcome) => outcomes.filter((o) => o.outcome === outcome).length;
    const detail = {
      passed: count("pass"),
      failed: count("fail"),
      skipped: count("skip"),
      failures: outcomes.filter((o) => o.outcome === "fail").map((o) => `[${o.rule}] ${o.name}: ${o.reason}`),
      cases: outcomes.map((o) => `${o.outcome.toUpperCase()} [${o.rule}] ${o.name} (${Math.round(o.ms)} ms)`),
    };
    if (detail.failed > 0 || detail.passed === 0)
      throw new CheckFailed(`${detail.failed} conformance case(s) failed`, detail);
    return detail;
  },
};

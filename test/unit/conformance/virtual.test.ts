/**
 * The conformance suite against the virtual key, reached through the real transport code over
 * the node-hid stand-in: discovery, NodeHidPort, Transport and KeyClient run unchanged.
 * Each case gets a fresh key so that cases cannot hide each other's leftovers.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { KeyClient } from "../../../src/key/key-client.js";
import { conformanceCases, runConformance } from "../../conformance/index.js";
import { connectVirtual, type VirtualSetup, virtualSetup } from "../key/virtual-key-harness.js";
import { captureLogs } from "../log-capture.js";

/** The K9 case that pins another public key is refused as counterfeit, and logged as the error it is. */
const COUNTERFEIT = "error counterfeit key refused";
const isCounterfeitCase = (c: { name: string }) => /refused as counterfeit/.test(c.name);
const logged = (logs: ReturnType<typeof captureLogs>) => logs.lines.map((line) => `${line.level} ${line.message}`);

let open: { setup: VirtualSetup; client: KeyClient } | undefined;

afterEach(async () => {
  await open?.client.close();
  open?.setup.bus.close();
  open = undefined;
});

async function freshContext() {
  const setup = virtualSetup();
  const { client, transport } = await connectVirtual(setup);
  open = { setup, client };
  return {
    client,
    vendor: setup.vendor,
    controls: {
      advanceClock: (ms: number) => setup.key.advanceClock(ms),
      reboot: () => setup.key.reboot(),
    },
    transport,
  };
}

describe("conformance suite on the virtual key", () => {
  it.each(conformanceCases.map((testCase) => [`[${testCase.rule}] ${testCase.name}`, testCase] as const))(
    "%s",
    async (_name, testCase) => {
      const logs = captureLogs();
      const context = await freshContext();
      await testCase.run(context);
      // No case may leave a borrow behind (they clean up, or clear their dummies with the clock).
      expect(await context.client.listAllBorrows()).toEqual([]);
      expect(logged(logs)).toEqual(isCounterfeitCase(testCase) ? [COUNTERFEIT] : []);
    },
  );

  it("runConformance runs every case on one key and reports each one", async () => {
    const logs = captureLogs();
    const context = await freshContext();
    const lines: string[] = [];
    const outcomes = await runConformance(context, { destructive: true, log: (line) => lines.push(line) });
    expect(logged(logs)).toEqual(conformanceCases.filter(isCounterfeitCase).map(() => COUNTERFEIT));
    expect(outcomes.filter((outcome) => outcome.outcome !== "pass")).toEqual([]);
    expect(outcomes).toHaveLength(conformanceCases.length);
    expect(lines.at(-1)).toBe(`${conformanceCases.length} passed, 0 failed, 0 skipped`);
  });

  it("skips clock-control and destructive cases visibly when the context cannot run them", async () => {
    const logs = captureLogs();
    const { client } = await freshContext();
    const outcomes = await runConformance({ client });
    const ran = outcomes.filter((outcome) => isCounterfeitCase(outcome) && outcome.outcome === "pass").length;
    expect(ran).toBe(1);
    expect(logged(logs)).toEqual([COUNTERFEIT]);
    const skipped = outcomes.filter((outcome) => outcome.outcome === "skip");
    expect(skipped.length).toBe(
      conformanceCases.filter((c) => c.needsClockControl || c.destructive || c.needsVendor).length,
    );
    expect(outcomes.filter((outcome) => outcome.outcome === "fail")).toEqual([]);
  });
});

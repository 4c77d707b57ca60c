import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AppCommand,
  BROADCAST_CID,
  FrameCommand,
  parseReport,
  REPORT_SIZE,
  Status,
} from "../../../src/protocol/index.js";
import { FirmwareHost } from "./key-host.js";

describe("firmware under arbitrary reports", () => {
  it("never throws, emits only 64-byte reports, and keeps answering a valid request", () => {
    const host = new FirmwareHost();
    const cid = host.init();
    const report = fc.uint8Array({ minLength: REPORT_SIZE, maxLength: REPORT_SIZE });
    // Most reports aim at the live channel or at broadcast so they get past the channel check.
    const aimed = fc
      .tuple(report, fc.constantFrom("random", "channel", "channel", "broadcast"))
      .map(([bytes, target]) => {
        if (target === "channel") new DataView(bytes.buffer).setUint32(0, cid);
        if (target === "broadcast") new DataView(bytes.buffer).setUint32(0, BROADCAST_CID);
        return bytes;
      });
    fc.assert(
      fc.property(fc.array(aimed, { minLength: 1, maxLength: 12 }), (reports) => {
        host.cid = cid;
        host.take();
        for (const bytes of reports) expect(() => host.send(bytes)).not.toThrow();
        for (const out of host.take()) {
          expect(out).toHaveLength(REPORT_SIZE);
          parseReport(out);
        }
        expect(host.firmware.lastInternalError).toBeUndefined();
        // Cancel whatever a fuzzed MSG left half-assembled, then a valid request must work.
        host.send(cancelReport(cid));
        host.take();
        const { status, body } = host.raw(AppCommand.PING, Uint8Array.of(1, 2));
        expect(status).toBe(Status.OK);
        expect(body).toEqual(Uint8Array.of(1, 2));
      }),
      { numRuns: 300 },
    );
  });

  it("ignores reports of the wrong size", () => {
    const host = new FirmwareHost();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        fc.pre(bytes.length !== REPORT_SIZE);
        host.send(bytes);
        expect(host.take()).toEqual([]);
      }),
    );
  });
});

function cancelReport(cid: number): Uint8Array {
  const report = new Uint8Array(REPORT_SIZE);
  new DataView(report.buffer).setUint32(0, cid);
  report[4] = 0x80 | FrameCommand.CANCEL;
  return report;
}

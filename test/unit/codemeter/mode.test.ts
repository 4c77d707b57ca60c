import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CODEMETER_MODES,
  CODEMETER_PARTS,
  type CodeMeterPart,
  resolveCodeMeterMode,
} from "../../../src/codemeter/index.js";

const none: Record<CodeMeterPart, boolean> = { serverConfig: false, cmu: false, stick: false, trackingDir: false };
const all: Record<CodeMeterPart, boolean> = { serverConfig: true, cmu: true, stick: true, trackingDir: true };
const where = {
  serverConfig: "/etc/wibu/CodeMeter/Server.ini",
  cmu: "cmu on PATH",
  trackingDir: "/var/log/CodeMeter",
};

describe("resolveCodeMeterMode", () => {
  it("auto: a server with no CodeMeter at all runs nothing of it, and says what was looked for", () => {
    const decision = resolveCodeMeterMode({ mode: "auto", found: none, where });
    expect(decision.runs).toBe(false);
    expect(decision.findings).toEqual([]);
    expect(decision.reason).toBe(
      "no CodeMeter on this host (looked for the server configuration (/etc/wibu/CodeMeter/Server.ini), " +
        "cmu (cmu on PATH), a CmStick on USB, the License Tracking directory (/var/log/CodeMeter))",
    );
  });

  it.each(CODEMETER_PARTS)("auto: %s alone is enough to run", (part) => {
    const decision = resolveCodeMeterMode({ mode: "auto", found: { ...none, [part]: true } });
    expect(decision.runs).toBe(true);
    expect(decision.found).toEqual([part]);
    expect(decision.findings).toEqual([]);
    expect(decision.reason).toMatch(/^CodeMeter found on this host: /);
  });

  it("on: runs with nothing found, each missing part a finding saying what keybridge cannot see and the setting", () => {
    const decision = resolveCodeMeterMode({ mode: "on", found: none, where });
    expect(decision.runs).toBe(true);
    expect(decision.findings.map((finding) => finding.code)).toEqual([
      "config-missing",
      "cmu-missing",
      "sticks-none",
      "tracking-dir-missing",
    ]);
    expect(decision.findings[0]).toMatchObject({
      where: "/etc/wibu/CodeMeter/Server.ini",
      message: expect.stringContaining("codemeter.serverIni"),
    });
    expect(decision.findings[1]?.message).toContain("codemeter.cmu");
    expect(decision.findings[3]).toMatchObject({
      where: "/var/log/CodeMeter",
      message: expect.stringContaining("turn License Tracking on, or name the directory with codemeter.logDir"),
    });
  });

  it("on with everything found: no finding", () => {
    const decision = resolveCodeMeterMode({ mode: "on", found: all });
    expect(decision).toMatchObject({ runs: true, findings: [], missing: [] });
  });

  it("off: never runs, whatever is there", () => {
    const decision = resolveCodeMeterMode({ mode: "off", found: all });
    expect(decision).toMatchObject({
      runs: false,
      findings: [],
      reason: "the CodeMeter mode is off (codemeter.mode = off)",
    });
  });

  it("for any mode and any host: found and missing split the parts; auto runs exactly when something is found", () => {
    const found = fc.record({
      serverConfig: fc.boolean(),
      cmu: fc.boolean(),
      stick: fc.boolean(),
      trackingDir: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.constantFrom(...CODEMETER_MODES), found, (mode, host) => {
        const decision = resolveCodeMeterMode({ mode, found: host });
        expect([...decision.found, ...decision.missing].sort()).toEqual([...CODEMETER_PARTS].sort());
        for (const part of decision.found) expect(host[part]).toBe(true);
        const any = Object.values(host).some(Boolean);
        expect(decision.runs).toBe(mode === "on" || (mode === "auto" && any));
        expect(decision.findings).toHaveLength(mode === "on" ? decision.missing.length : 0);
      }),
    );
  });
});

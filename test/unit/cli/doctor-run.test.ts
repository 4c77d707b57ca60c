import { describe, expect, it } from "vitest";
import { doctorText } from "../../../src/cli/doctor/render.js";
import { runCheck, runChecks } from "../../../src/cli/doctor/run-checks.js";
import type { DoctorCheck } from "../../../src/cli/doctor/types.js";

const check = (id: string, run: DoctorCheck["run"]): DoctorCheck => ({ id, title: id, run });

describe("running the checks", () => {
  it("turns a check that throws into its own fail, and the others still report", async () => {
    const report = await runChecks([
      check("boom", async () => {
        throw new Error("stack overflowed");
      }),
      check("fine", async () => ({ status: "ok", detail: "all good" })),
    ]);
    expect(report.ok).toBe(false);
    expect(report.checks[0]).toMatchObject({
      id: "boom",
      status: "fail",
      detail: "unexpected error: stack overflowed",
    });
    expect(report.checks[0]!.fix).toBeDefined();
    expect(report.checks[1]).toMatchObject({ id: "fine", status: "ok" });
  });

  it("fails a check that never answers, and aborts its signal", async () => {
    let signal: AbortSignal | undefined;
    const result = await runCheck(
      check("hung", (s) => {
        signal = s;
        return new Promise(() => {});
      }),
      20,
    );
    expect(result.status).toBe("fail");
    expect(result.detail).toMatch(/no answer within/);
    expect(signal?.aborted).toBe(true);
  });

  it("is ok with warnings and skips; not ok with a failure", async () => {
    const warned = await runChecks([
      check("a", async () => ({ status: "warn", detail: "meh", fix: "do x" })),
      check("b", async () => ({ status: "skip", detail: "not here" })),
    ]);
    expect(warned.ok).toBe(true);
  });
});

describe("doctor's text", () => {
  it("aligns one line per check, prints the fixes under the check, and sums up", () => {
    const text = doctorText({
      ok: false,
      checks: [
        { id: "node", title: "Node.js", status: "ok", detail: "Node.js 20.1.0" },
        {
          id: "udev-rules",
          title: "udev",
          status: "fail",
          detail: "not installed",
          fix: "sudo install a b\nsudo udevadm trigger",
        },
        { id: "group", title: "group", status: "warn", detail: "not in group", fix: "sudo usermod -aG keybridge bob" },
      ],
    });
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("ok    node        Node.js 20.1.0");
    expect(lines[1]).toBe("FAIL  udev-rules  not installed");
    expect(lines[2]).toBe("                  fix: sudo install a b");
    expect(lines[3]).toBe("                       sudo udevadm trigger");
    expect(lines[4]).toBe("WARN  group       not in group");
    expect(lines[5]).toBe("                  fix: sudo usermod -aG keybridge bob");
    expect(lines.at(-1)).toBe(
      "1 of 3 checks failed, 1 warning: apply the fixes above, then run keybridge doctor again.",
    );
  });

  it("says no check failed when only warnings remain", () => {
    const text = doctorText({ ok: true, checks: [{ id: "a", title: "a", status: "warn", detail: "x", fix: "y" }] });
    expect(text.trimEnd().split("\n").at(-1)).toBe("No check failed (1 warning).");
  });
});

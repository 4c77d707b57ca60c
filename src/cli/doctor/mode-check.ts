import { type DoctorCheck, ok, warn } from "./types.js";

/** Which keys the daemon serves, and who says so. */
export interface ModeFinding {
  mode: "real" | "virtual";
  /** `the daemon at http://127.0.0.1:22380 (pid 4711)` or `the configuration (...)`. */
  from: string;
}

/** First in the report: everything about USB access below reads differently for virtual keys. */
export function modeCheck(finding: ModeFinding): DoctorCheck {
  return {
    id: "mode",
    title: "mode",
    run: async () =>
      ok(
        finding.mode === "virtual"
          ? `virtual keys, says ${finding.from}: USB access, udev rules and the keybridge group matter only for real keys`
          : `real keys over USB, says ${finding.from}`,
      ),
  };
}

/** A USB-access check under virtual keys: what would fail is a warning, said to matter for real keys only. */
export function notNeededForVirtual(check: DoctorCheck): DoctorCheck {
  return {
    id: check.id,
    title: check.title,
    run: async (signal) => {
      const outcome = await check.run(signal);
      if (outcome.status !== "fail") return outcome;
      return warn(
        `${outcome.detail} (not needed for the virtual keys the daemon runs now; needed before real keys)`,
        outcome.fix ?? "",
      );
    },
  };
}

import { layerLogger } from "../../log.js";
import { CheckTimedOutError } from "./errors.js";
import type { CheckOutcome, CheckResult, DoctorCheck, DoctorReport } from "./types.js";

const log = layerLogger("cli");

/** A hung USB stack or daemon must not hang doctor. */
export const CHECK_TIMEOUT_MS = 3_000;

/**
 * Runs one check: never throws, never takes longer than `timeoutMs`. An unexpected error or a
 * timeout becomes that check's `fail`, so the other checks still report.
 */
export async function runCheck(check: DoctorCheck, timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new CheckTimedOutError(check.id, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    // Work left running by a timed-out check (a native call that cannot be cancelled) must not hold the process.
    timer.unref();
  });
  let outcome: CheckOutcome;
  try {
    outcome = await Promise.race([Promise.resolve().then(() => check.run(controller.signal)), timedOut]);
  } catch (error) {
    log.debug("doctor check failed", { check: check.id, error: String(error) });
    const message = error instanceof Error ? error.message : String(error);
    outcome = {
      status: "fail",
      detail: error instanceof CheckTimedOutError ? message : `unexpected error: ${message}`,
      fix:
        error instanceof CheckTimedOutError
          ? "run `keybridge doctor` again; if it hangs again, see the system log (journalctl -k) for USB errors"
          : "report this error with the output of `keybridge doctor --json`",
    };
  } finally {
    clearTimeout(timer);
  }
  return { id: check.id, title: check.title, ...outcome };
}

/** Runs every check at once (each is bounded by its own timeout) and keeps their order. */
export async function runChecks(checks: readonly DoctorCheck[], timeoutMs = CHECK_TIMEOUT_MS): Promise<DoctorReport> {
  const results = await Promise.all(checks.map((check) => runCheck(check, timeoutMs)));
  return { checks: results, ok: results.every((result) => result.status !== "fail") };
}

/** `skip`: the check does not apply here (another OS, nothing to check yet); `detail` says why. */
export type CheckStatus = "ok" | "warn" | "fail" | "skip";

/** What one check found; `fix` is what to run or install, given whenever the status is not ok. */
export interface CheckOutcome {
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface CheckResult extends CheckOutcome {
  id: string;
  title: string;
}

export interface DoctorCheck {
  readonly id: string;
  readonly title: string;
  /** `signal` aborts when the check's time is up; checks pass it on to fetch and other cancellable work. */
  run(signal: AbortSignal): Promise<CheckOutcome>;
}

/** The `--json` shape: fields may be added, never renamed. */
export interface DoctorReport {
  checks: CheckResult[];
  /** False when any check failed; warnings leave it true. */
  ok: boolean;
}

export const ok = (detail: string): CheckOutcome => ({ status: "ok", detail });
export const skip = (detail: string): CheckOutcome => ({ status: "skip", detail });
export const warn = (detail: string, fix: string): CheckOutcome => ({ status: "warn", detail, fix });
export const fail = (detail: string, fix: string): CheckOutcome => ({ status: "fail", detail, fix });

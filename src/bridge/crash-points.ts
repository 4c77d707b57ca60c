/**
 * Named steps of every journaled operation. The crash harness (test/crash/) sets
 * KEYBRIDGE_CRASH_AT=<point> (or <point>#<n> for the n-th time the point is reached) and the
 * process SIGKILLs itself there, which is how "a crash at every step" is tested for real.
 * Without the variable a crash point costs one comparison.
 */
export const CRASH_POINTS = [
  "borrow.before-key",
  "borrow.after-key",
  "borrow.after-ledger",
  "return.after-journal",
  "return.after-key",
  "return.after-ledger",
  "settle.after-journal",
  "settle.after-key",
  "settle.after-ledger",
  "rebind.after-journal",
  "rebind.after-key",
  "rebind.after-ledger",
  "mirror.before-write",
  "mirror.after-write",
  "recovery.after-key",
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

const requested = parseRequest(process.env.KEYBRIDGE_CRASH_AT);
let reached = 0;

function parseRequest(value: string | undefined): { point: string; nth: number } | undefined {
  if (!value) return undefined;
  const [point, nth] = value.split("#");
  return { point: point ?? "", nth: nth === undefined ? 1 : Math.max(1, Number.parseInt(nth, 10) || 1) };
}

export function crashPoint(point: CrashPoint): void {
  if (requested === undefined || requested.point !== point) return;
  reached++;
  if (reached === requested.nth) process.kill(process.pid, "SIGKILL");
}

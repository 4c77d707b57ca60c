import { CRASH_POINTS } from "../../src/bridge/crash-points.js";

/** One crash run: where the first process dies, and optionally how the restart is killed too. */
export interface CrashRun {
  name: string;
  /** `KEYBRIDGE_CRASH_AT` of the workload process. */
  crashAt?: string;
  /** SIGKILL the workload this long after it opened the bridge. */
  killAfterMs?: number;
  /** A second process that only opens the bridge (recovery) and is killed as well. */
  restartCrash?: { crashAt?: string; killAfterMs?: number };
}

/**
 * How often the driver's workload reaches each point (8 borrows, 3 returns, 1 expiry settle,
 * 2 rebinds, several mirror flushes, 1 recovery at open): every occurrence is a run.
 */
const OCCURRENCES: Record<(typeof CRASH_POINTS)[number], number> = {
  "borrow.before-key": 8,
  "borrow.after-key": 8,
  "borrow.after-ledger": 8,
  "return.after-journal": 3,
  "return.after-key": 3,
  "return.after-ledger": 3,
  "settle.after-journal": 1,
  "settle.after-key": 1,
  "settle.after-ledger": 1,
  "rebind.after-journal": 2,
  "rebind.after-key": 2,
  "rebind.after-ledger": 2,
  "mirror.before-write": 4,
  "mirror.after-write": 4,
  "recovery.after-key": 1,
};

/** Points whose leftovers recovery must finish: each is also run with the recovery itself killed. */
const CHAINED = [
  "borrow.after-key#2",
  "return.after-journal#1",
  "return.after-key#2",
  "settle.after-journal#1",
  "settle.after-key#1",
  "rebind.after-journal#1",
  "rebind.after-key#2",
  "mirror.before-write#2",
];

/** A small deterministic PRNG so a failing random run can be replayed from its name. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function crashPlan(options: {
  randomRuns: number;
  workloadMs: number;
  openMs: number;
  seed: number;
}): CrashRun[] {
  const runs: CrashRun[] = [];
  for (const point of CRASH_POINTS) {
    for (let n = 1; n <= OCCURRENCES[point]; n++) {
      const crashAt = n === 1 ? point : `${point}#${n}`;
      runs.push({ name: crashAt, crashAt });
    }
  }
  for (const crashAt of CHAINED) {
    runs.push({ name: `${crashAt} then recovery.after-key`, crashAt, restartCrash: { crashAt: "recovery.after-key" } });
  }
  const random = mulberry32(options.seed);
  for (let i = 0; i < options.randomRuns; i++) {
    // 10% past the measured workload, so the final flush and close are covered too.
    const killAfterMs = Math.round(random() * options.workloadMs * 1.1);
    const chained = random() < 0.2;
    const restartKill = Math.round(random() * options.openMs);
    runs.push({
      name: `random kill at +${killAfterMs} ms${chained ? `, restart killed at +${restartKill} ms` : ""} (seed ${options.seed}, #${i})`,
      killAfterMs,
      ...(chained ? { restartCrash: { killAfterMs: restartKill } } : {}),
    });
  }
  return runs;
}

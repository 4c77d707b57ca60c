import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { CRASH_POINTS } from "../../src/bridge/crash-points.js";
import { checkAfterCrash } from "./invariants.js";
import { type CrashRun, crashPlan } from "./plan.js";
import { type ChildRun, runChild } from "./run-child.js";

/**
 * SIGKILL at every named crash point (and at random instants) during a scripted workload on a
 * virtual bridge, then restart on the same data dir and check: no acknowledged borrow lost, nothing
 * allocated twice, no dummy, key/registry/ledger reconcile, and every borrow still returnable.
 * KEYBRIDGE_CRASH_RANDOM_RUNS and KEYBRIDGE_CRASH_SEED tune the random part.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PARALLEL = 2;
const RANDOM_RUNS = Number.parseInt(process.env.KEYBRIDGE_CRASH_RANDOM_RUNS ?? "150", 10);
const SEED = Number.parseInt(process.env.KEYBRIDGE_CRASH_SEED ?? String(Date.now() % 100_000), 10);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".ts")) {
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** The driver runs the built code: build when dist/ is missing or older than the sources. */
function ensureBuild(): void {
  const built = join(ROOT, "dist/src/bridge/open.js");
  const stale =
    !existsSync(built) ||
    statSync(built).mtimeMs < Math.max(newestMtime(join(ROOT, "src")), newestMtime(join(ROOT, "native-mocks")));
  if (stale)
    execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
      cwd: ROOT,
      stdio: "inherit",
    });
}

interface Outcome {
  run: CrashRun;
  dataDir: string;
  first: ChildRun;
  killed: boolean;
  problems: string[];
}

async function execute(run: CrashRun, openMs: number): Promise<Outcome> {
  const dataDir = mkdtempSync(join(tmpdir(), "keybridge-crash-"));
  const first = await runChild({
    dataDir,
    mode: "workload",
    ...(run.crashAt === undefined ? {} : { crashAt: run.crashAt }),
    ...(run.killAfterMs === undefined ? {} : { killAfterMs: run.killAfterMs }),
  });
  const problems: string[] = [];
  const killed = first.signal === "SIGKILL";
  if (!killed && first.code !== 0) problems.push(`driver failed (exit ${first.code}): ${first.stderr.slice(-2000)}`);
  if (run.restartCrash !== undefined) {
    const restart = await runChild({
      dataDir,
      mode: "open",
      ...(run.restartCrash.crashAt === undefined ? {} : { crashAt: run.restartCrash.crashAt }),
      ...(run.restartCrash.killAfterMs === undefined
        ? {}
        : { killAfterMs: run.restartCrash.killAfterMs, killFrom: "spawn" as const }),
      timeoutMs: openMs * 20,
    });
    if (restart.signal !== "SIGKILL" && restart.code !== 0) {
      problems.push(`restart failed (exit ${restart.code}): ${restart.stderr.slice(-2000)}`);
    }
  }
  try {
    problems.push(...(await checkAfterCrash(dataDir, first.acks)));
  } catch (error) {
    problems.push(`restart or check threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  if (problems.length === 0) rmSync(dataDir, { recursive: true, force: true });
  return { run, dataDir, first, killed, problems };
}

async function pool<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: width }, async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await work(items[at] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

describe("crash at every step", () => {
  let workloadMs = 400;
  let openMs = 500;

  beforeAll(async () => {
    ensureBuild();
    // Measure an uncrashed run: the random kills spread over its duration.
    const dataDir = mkdtempSync(join(tmpdir(), "keybridge-crash-"));
    try {
      const started = Date.now();
      const child = await runChild({ dataDir, mode: "workload" });
      const elapsed = Date.now() - started;
      expect(child.code, child.stderr).toBe(0);
      expect(child.acks.at(-1)?.op).toBe("closed");
      // Roughly: node start and imports, then the workload.
      workloadMs = Math.max(150, elapsed - 250);
      openMs = Math.max(200, Math.round(elapsed / 2));
      expect(await checkAfterCrash(dataDir, child.acks)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);

  it("loses no acknowledged borrow, allocates nothing twice, makes no dummy, and reconciles", async () => {
    const runs = crashPlan({ randomRuns: RANDOM_RUNS, workloadMs, openMs, seed: SEED });
    const started = Date.now();
    const outcomes = await pool(runs, PARALLEL, (run) => execute(run, openMs));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);

    const byPoint = new Map<string, { runs: number; killed: number }>();
    for (const outcome of outcomes) {
      const point = outcome.run.crashAt?.split("#")[0] ?? "random";
      const entry = byPoint.get(point) ?? { runs: 0, killed: 0 };
      entry.runs++;
      if (outcome.killed) entry.killed++;
      byPoint.set(point, entry);
    }
    const failures = outcomes.filter((outcome) => outcome.problems.length > 0);
    const lines = [
      `crash harness: ${outcomes.length} runs in ${seconds} s (seed ${SEED}, workload ~${workloadMs} ms)`,
      ...[...byPoint].map(([point, { runs: n, killed }]) => `  ${point.padEnd(22)} ${n} runs, ${killed} killed`),
      `  failures: ${failures.length}`,
      ...failures.map((f) => `  FAIL ${f.run.name} (data dir kept: ${f.dataDir})\n    ${f.problems.join("\n    ")}`),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);

    expect(outcomes.length).toBeGreaterThanOrEqual(200);
    // Every named point was actually reached (the process died there) at least once.
    for (const point of CRASH_POINTS) {
      const reached = outcomes.some((o) => o.killed && o.run.crashAt?.split("#")[0] === point);
      expect(reached, `crash point ${point} was never reached`).toBe(true);
    }
    expect(
      failures.map((f) => `${f.run.name}: ${f.problems.join("; ")} [${f.dataDir}]`),
      "runs whose restart broke an invariant",
    ).toEqual([]);
    // Over 200 process runs, two at a time: 4 minutes on a quiet 2-core machine, several times that
    // while the rest of the suite (or another suite) shares the cores. The limit only stops a hang.
  }, 900_000);
});

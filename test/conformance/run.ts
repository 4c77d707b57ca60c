import { conformanceCases } from "./cases.js";
import type { ConformanceCase, ConformanceContext } from "./context.js";

export interface CaseOutcome {
  readonly name: string;
  readonly rule: string;
  readonly outcome: "pass" | "fail" | "skip";
  /** Why it failed or was skipped. */
  readonly reason?: string;
  readonly ms: number;
}

export interface RunOptions {
  /** One line per case; default: nothing. */
  readonly log?: (line: string) => void;
  /** Run cases that leave lasting marks on a real key (dummies, license-set version). Default false. */
  readonly destructive?: boolean;
  /** Only cases whose name or rule contains this text. */
  readonly filter?: string;
  readonly cases?: readonly ConformanceCase[];
}

export function skipReason(
  testCase: ConformanceCase,
  context: ConformanceContext,
  destructive: boolean,
): string | undefined {
  if (testCase.needsClockControl && context.controls === undefined) return "needs clock control (virtual key only)";
  if (testCase.needsVendor && context.vendor === undefined) return "needs the key's vendor secret to sign updates";
  if (testCase.destructive && !destructive) return "destructive on a real key (enable explicitly)";
  return undefined;
}

/** Runs the suite without a test runner (e.g. inside a VM from dist/); never throws for a failing case. */
export async function runConformance(context: ConformanceContext, options: RunOptions = {}): Promise<CaseOutcome[]> {
  const log = options.log ?? (() => {});
  const outcomes: CaseOutcome[] = [];
  for (const testCase of options.cases ?? conformanceCases) {
    if (options.filter !== undefined && !`${testCase.rule} ${testCase.name}`.includes(options.filter)) continue;
    const reason = skipReason(testCase, context, options.destructive ?? false);
    if (reason !== undefined) {
      outcomes.push({ name: testCase.name, rule: testCase.rule, outcome: "skip", reason, ms: 0 });
      log(`SKIP [${testCase.rule}] ${testCase.name}: ${reason}`);
      continue;
    }
    const started = performance.now();
    try {
      await testCase.run(context);
      const ms = performance.now() - started;
      outcomes.push({ name: testCase.name, rule: testCase.rule, outcome: "pass", ms });
      log(`PASS [${testCase.rule}] ${testCase.name}`);
    } catch (error) {
      const ms = performance.now() - started;
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      outcomes.push({ name: testCase.name, rule: testCase.rule, outcome: "fail", reason: text, ms });
      log(`FAIL [${testCase.rule}] ${testCase.name}: ${text}`);
    }
  }
  const count = (outcome: CaseOutcome["outcome"]) => outcomes.filter((o) => o.outcome === outcome).length;
  log(`${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped`);
  return outcomes;
}

// Reconcile throughput: 1 000, 10 000 and 100 000 borrow records seen through key, registry and
// ledger. Runs on the built output: `npx tsc -p tsconfig.build.json && node test/bench/reconcile.bench.mjs`
// (an optional argument names another build of src/reconcile/index.js, to compare two versions).
// The machine may be shared: sizes are interleaved round by round, so a burst of load from other
// processes hits all sizes alike, and figures are medians. Wall time is the figure; CPU time of
// this process (GC threads included) is printed beside it because it is steadier under load.
// Prints a table, then one JSON line with `reconcile_ms_100k` and `reconcile_growth_10x` (docs/benchmarks.md).
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { median } from "./stats.mjs";

const modulePath = process.argv[2] ?? new URL("../../dist/src/reconcile/index.js", import.meta.url).pathname;
const { reconcile } = await import(pathToFileURL(resolve(modulePath)).href);

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 0, 15, 12);
const HOST = "aa".repeat(32);
const OTHER = "bb".repeat(32);
const SERIALS = ["K-1", "K-2", "K-3", "K-4"];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);
const SIZES = [1_000, 10_000, 100_000];
/** Calls per round, so every size spends a similar time per round. */
const CALLS = { 1000: 40, 10000: 8, 100000: 1 };
const TARGET_MS_100K = 100;
const TARGET_GROWTH = 12;

const hex = (n, bytes) => n.toString(16).padStart(bytes * 2, "0");

/**
 * A realistic mix: 98 % healthy; the rest spread over drift, expiry, dummies and stale rows. The
 * four keys' records interleave in registry and ledger, each view listed by borrow id, so
 * reconcile takes its one-pass path in id-then-serial order (docs/reconcile.md).
 */
function world(n) {
  const borrowsBySerial = new Map(SERIALS.map((s) => [s, []]));
  const registry = [];
  const ledger = [];
  for (let i = 0; i < n; i++) {
    const serial = SERIALS[i % SERIALS.length];
    const id = i + 1;
    const expiresAt = NOW + ((i % 30) - 1) * DAY + 3_600_000;
    const record = {
      id,
      product: 1000 + (i % 50),
      client: `ws-${i % 997}`,
      issuedAt: expiresAt - 30 * DAY,
      expiresAt,
      binding: i % 211 === 0 ? OTHER : HOST,
      opId: hex(id, 16),
      state: i % 509 === 0 ? "dummy" : "active",
      dummyUntil: i % 509 === 0 ? NOW + 10 * DAY : undefined,
    };
    const tag = hex(id * 7, 16);
    const { product, client, issuedAt, binding, opId } = record;
    if (i % 401 !== 0) borrowsBySerial.get(serial).push(record);
    if (i % 307 !== 0) {
      registry.push({
        serial,
        id,
        product,
        client,
        issuedAt,
        expiresAt,
        binding,
        tag: i % 613 === 0 ? hex(1, 16) : tag,
      });
    }
    if (i % 293 !== 0)
      ledger.push({ serial, id, opId, product, client, issuedAt, expiresAt, binding, tag, state: "active" });
  }
  return {
    keys: SERIALS.map((serial) => ({
      serial,
      present: true,
      borrows: borrowsBySerial.get(serial),
      settleWindowMs: DAY,
      keyTimeMs: NOW,
    })),
    registry: { readable: true, borrows: registry },
    ledger,
    host: { binding: HOST },
    now: NOW,
  };
}

/** One timed call: wall and CPU milliseconds. */
function timeOnce(input) {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const report = reconcile(input);
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpuStart);
  return { ms, cpuMs: (used.user + used.system) / 1000, findings: report.findings.length };
}

const inputs = new Map(SIZES.map((n) => [n, world(n)]));
const samples = new Map(SIZES.map((n) => [n, { ms: [], cpuMs: [], findings: 0 }]));
for (const n of SIZES) for (let i = 0; i < 3 * CALLS[n]; i++) reconcile(inputs.get(n)); // warm-up: let the JIT settle
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order of sizes so none always runs right after another's garbage.
  for (let k = 0; k < SIZES.length; k++) {
    const n = SIZES[(round + k) % SIZES.length];
    const into = samples.get(n);
    for (let call = 0; call < CALLS[n]; call++) {
      const t = timeOnce(inputs.get(n));
      into.ms.push(t.ms);
      into.cpuMs.push(t.cpuMs);
      into.findings = t.findings;
    }
  }
}
const results = SIZES.map((n) => {
  const s = samples.get(n);
  return { n, ms: median(s.ms), cpuMs: median(s.cpuMs), findings: s.findings, runs: s.ms.length };
});
for (const r of results) {
  console.log(
    `reconcile ${String(r.n).padStart(7)} records: ${r.ms.toFixed(2).padStart(8)} ms median of ${r.runs} ` +
      `(${((r.ms * 1000) / r.n).toFixed(2)} µs/record; CPU ${r.cpuMs.toFixed(2)} ms; ${r.findings} findings)`,
  );
}
const ms100k = results[2].ms;
const growth = results[2].ms / results[1].ms;
console.log(`100k: ${ms100k.toFixed(2)} ms = ${(ms100k / TARGET_MS_100K).toFixed(2)}× the ${TARGET_MS_100K} ms target`);
const cpuGrowth = results[2].cpuMs / results[1].cpuMs;
console.log(`growth 10k→100k: ${growth.toFixed(2)}× wall, ${cpuGrowth.toFixed(2)}× CPU (target ≤ ${TARGET_GROWTH}×)`);
console.log(
  JSON.stringify({
    reconcile_ms_100k: Number(ms100k.toFixed(2)),
    reconcile_growth_10x: Number(growth.toFixed(2)),
    reconcile_cpu_ms_100k: Number(results[2].cpuMs.toFixed(2)),
    reconcile_cpu_growth_10x: Number(cpuGrowth.toFixed(2)),
  }),
);

// Shared helpers for the benchmarks: medians of repeated batches, never single timings.
import { performance } from "node:perf_hooks";

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 0 ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[mid];
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export function geometricMean(values) {
  return Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
}

/** Runs `fn` `iterations` times per batch and returns the median time per iteration in microseconds. */
export function timePerIteration(fn, { iterations, batches = 9, warmupBatches = 2 }) {
  const perBatch = [];
  for (let b = 0; b < warmupBatches + batches; b++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) fn(i);
    const elapsed = performance.now() - start;
    if (b >= warmupBatches) perBatch.push((elapsed * 1000) / iterations);
  }
  return median(perBatch);
}

export function round(value, digits = 2) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The last line of every benchmark: one JSON object of its figures, named as in docs/benchmarks.md. */
export function printFigures(figures) {
  console.log(JSON.stringify(figures));
}

// Key detach → risk event latency on the virtual bus (target p99 ≤ 5 ms, docs/benchmarks.md).
// A virtual bridge holds outstanding borrows; the key is pulled off the bus (the physical unplug:
// the USB detach event, hotplug, key manager, risk engine) ≥ 200 times, and the time from the
// unplug call to the `risk.raised` event is measured. Runs on the built output:
// `npm run build && node test/bench/detach-risk.bench.mjs`. Last line: {"detach_to_risk_ms_p99": …}.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openBridge } from "../../dist/src/bridge/index.js";
import { setLogLevel } from "../../dist/src/log.js";
import { eventArrival } from "./events.mjs";
import { median, percentile, printFigures, round } from "./stats.mjs";

const SERIAL = "KB-DEMO-0001";
const ROUNDS = Number(process.env.DETACH_ROUNDS ?? 250);
const WARMUP = 20;
const TARGET_P99_MS = 5;

setLogLevel("error");
const dir = mkdtempSync(join(tmpdir(), "keybridge-detach-bench-"));
const bridge = await openBridge(
  { dataDir: dir, mode: "virtual", hostPollMs: 60_000, clockCheckMs: 60_000, driftCheckMs: 3_600_000 },
  { expiryCheckMs: 3_600_000 },
);
try {
  for (let i = 0; i < 3; i++) await bridge.borrow({ product: 1001, client: `ws-${i}` });
  const bus = bridge.testSeams.world.bus;
  const samples = [];
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const raised = eventArrival(bridge, (e) => e.type === "risk.raised" && e.risk?.kind === "key-unplugged");
    const start = performance.now();
    bus.unplug(SERIAL);
    const at = await raised;
    if (round >= WARMUP) samples.push(at - start);
    const back = eventArrival(bridge, (e) => e.type === "risk.cleared" && e.risk?.kind === "key-unplugged");
    bus.plug(SERIAL);
    await back;
  }
  const p50 = median(samples);
  const p99 = percentile(samples, 99);
  console.log(`detach → risk.raised over ${samples.length} unplugs (virtual bus, ${3} borrows out)`);
  console.log(`  p50 ${round(p50, 3)} ms   p99 ${round(p99, 3)} ms   max ${round(Math.max(...samples), 3)} ms`);
  console.log(
    `  target p99 ≤ ${TARGET_P99_MS} ms: ${p99 <= TARGET_P99_MS ? "met" : "NOT met"} (ratio ${round(p99 / TARGET_P99_MS, 3)})`,
  );
  printFigures({ detach_to_risk_ms_p99: round(p99, 3), detach_to_risk_ms_p50: round(p50, 3) });
} finally {
  await bridge.close();
  rmSync(dir, { recursive: true, force: true });
}

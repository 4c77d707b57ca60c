// Reconcile time for 100 000 borrow records seen through key, registry and ledger. Runs on the
// built output: `npx tsc -p tsconfig.build.json && node test/bench/reconcile.bench.mjs` (an
// optional argument names another build of src/reconcile/index.js, to compare two versions).
//
// The views come as the bridge hands them over: the ledger and the registry in borrow order
// (serial, then id), each key's records by id; that is `reconcile_ms_100k` (docs/benchmarks.md).
// The same records with the registry and the ledger interleaved by id across the four keys,
// which reconcile must sort first, are timed beside it and reported (no target).
// The machine may be shared: the two orders alternate call by call, so a burst of load from other
// processes hits both alike, and figures are medians. Wall time is the figure; CPU time of this
// process (GC threads included) is printed beside it because it is steadier under load.
// The last line is one JSON object of the figures.
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { median, printFigures, round } from "./stats.mjs";

const modulePath = process.argv[2] ?? new URL("../../dist/src/reconcile/index.js", import.meta.url).pathname;
const { reconcile } = await import(pathToFileURL(resolve(modulePath)).href);

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 0, 15, 12);
const HOST = "aa".repeat(32);
const OTHER = "bb".repeat(32);
const SERIALS = ["K-1", "K-2", "K-3", "K-4"];
const RECORDS = 100_000;
const CALLS = Number(process.env.BENCH_ROUNDS ?? 25);
const TARGET_MS = 100;

const hex = (n, bytes) => n.toString(16).padStart(bytes * 2, "0");
const inBorrowOrder = (a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.id - b.id);

/**
 * A realistic mix: 98 % healthy; the rest spread over drift, expiry, dummies and stale rows, on
 * four keys whose borrow ids interleave (ids are handed out in turn). `interleaved` keeps the
 * registry and the ledger in id order across keys; otherwise they are in borrow order.
 */
function world(n, interleaved) {
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
  if (!interleaved) {
    registry.sort(inBorrowOrder);
    ledger.sort(inBorrowOrder);
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

const orders = [
  { name: "borrow order", input: world(RECORDS, false), ms: [], cpuMs: [], findings: 0 },
  { name: "interleaved", input: world(RECORDS, true), ms: [], cpuMs: [], findings: 0 },
];
for (let i = 0; i < 5; i++) for (const order of orders) reconcile(order.input); // warm-up: let the JIT settle
for (let call = 0; call < CALLS; call++) {
  for (const order of call % 2 === 0 ? orders : [...orders].reverse()) {
    const t = timeOnce(order.input);
    order.ms.push(t.ms);
    order.cpuMs.push(t.cpuMs);
    order.findings = t.findings;
  }
}
for (const order of orders) {
  const ms = median(order.ms);
  console.log(
    `reconcile ${RECORDS} records, ${order.name.padEnd(12)}: ${ms.toFixed(2).padStart(7)} ms median of ${order.ms.length} ` +
      `(${((ms * 1000) / RECORDS).toFixed(2)} µs/record; CPU ${median(order.cpuMs).toFixed(2)} ms; ${order.findings} findings)`,
  );
}
const [inOrder, interleaved] = orders;
const ms100k = median(inOrder.ms);
console.log(
  `100k in borrow order: ${ms100k.toFixed(2)} ms = ${(ms100k / TARGET_MS).toFixed(2)}× the ${TARGET_MS} ms target`,
);
printFigures({
  reconcile_ms_100k: round(ms100k),
  reconcile_cpu_ms_100k: round(median(inOrder.cpuMs)),
  reconcile_ms_100k_interleaved: round(median(interleaved.ms)),
});

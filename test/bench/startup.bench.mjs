// Daemon start-up with 100 000 ledger rows (targets in docs/benchmarks.md: `ready_ms_100k` ≤ 1 s, `rss_mb_100k` ≤ 150 MB).
// Runs on the built output: `npx tsc -p tsconfig.build.json && node test/bench/startup.bench.mjs`.
//
// Two ledger shapes, both seeded through the ledger and bridge APIs:
//  - realistic: 99 000 history rows (returned or settled) and 1 000 outstanding borrows that a
//    virtual key with 2 000 borrowable seats really holds, all on that key, so start-up recovery
//    compares the key's 1 000 records with the ledger exactly as in production;
//  - all outstanding: 100 000 active rows of a key that is not plugged in (a key that really held
//    100 000 borrows would need as many borrowable seats, and recovery would read every record over
//    HID), so the daemon indexes and mirrors all of them.
// `keybridge serve --virtual` is spawned and timed until GET /v1/health answers 200 and GET
// /v1/status (with the token from <dataDir>/api-token) answers 200; its RSS (VmRSS) and the CPU time
// it has used (user + system, all threads; less disturbed by other load than the wall time) are read
// then. The daemon answers while the registry mirror's first drift check still runs, so the time
// until a first GET /v1/reconcile also answers is shown too ("reconciled"): it reads the registry,
// which waits for that check, and then lists and reconciles every ledger row, so it is an upper
// bound of when the start's work is done, not a target. Each shape is started RUNS times (the first start also writes the registry
// mirror); the figures are medians. Anchor: an empty data directory, in the same run.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { median, printFigures, round } from "./stats.mjs";

const dist = resolve("dist/src");
const { openBridge } = await import(join(dist, "bridge/index.js"));
const { openLedger } = await import(join(dist, "ledger/index.js"));
const { setLogLevel } = await import(join(dist, "log.js"));
setLogLevel("error");

const ROWS = Number(process.env.BENCH_LEDGER_ROWS ?? 100_000);
const HELD = Number(process.env.BENCH_HELD_BORROWS ?? 1_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const KEY = "KB-BENCH-0001";
const AWAY = "KB-AWAY-0001";
const PRODUCT = 9001;
const DAY = 86_400_000;
const TARGET_MS = 1000;
const TARGET_MB = 150;

const scratch = [];
const tempDir = (prefix) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};
const hex = (n, bytes) => n.toString(16).padStart(bytes * 2, "0");

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Inserts rows in transactions of 10 000 through the ledger API. */
function insertRows(dir, count, rowOf) {
  const ledger = openLedger({ dir });
  try {
    for (let start = 0; start < count; start += 10_000) {
      ledger.transaction((tx) => {
        for (let i = start; i < Math.min(count, start + 10_000); i++) tx.insertBorrow(rowOf(i));
      });
    }
  } finally {
    ledger.close();
  }
}

/** A virtual key holding HELD real borrows (made through the bridge), then history rows on the same key. */
async function seedRealistic(dir) {
  const bridge = await openBridge({ dataDir: dir, mode: "virtual", mirrorLagMs: 50 });
  try {
    await bridge.virtual.create({
      serial: KEY,
      licenses: [{ product: PRODUCT, seats: 2 * HELD, borrowable: 2 * HELD, borrowDays: 30 }],
    });
    for (let i = 0; i < HELD; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(HELD, i + 50); j++) {
        batch.push(bridge.borrow({ product: PRODUCT, client: `ws-${j % 500}`, serial: KEY }));
      }
      await Promise.all(batch);
    }
  } finally {
    await bridge.close();
  }
  const now = Date.now();
  const binding = hex(7, 32);
  insertRows(dir, ROWS - HELD, (i) => ({
    serial: KEY,
    id: 10_000_000 + i,
    opId: hex(0xb0000000 + i, 16),
    product: PRODUCT,
    client: `ws-${i % 500}`,
    issuedAt: now - 400 * DAY + i * 60_000,
    expiresAt: now - 370 * DAY + i * 60_000,
    binding,
    tag: hex(i + 1, 16),
    state: i % 10 === 0 ? "settled" : "returned",
  }));
}

/** ROWS active borrows of a key that is not plugged in. */
function seedAllOutstanding(dir) {
  const now = Date.now();
  const binding = hex(7, 32);
  insertRows(dir, ROWS, (i) => ({
    serial: AWAY,
    id: i + 1,
    opId: hex(0xa0000000 + i, 16),
    product: 1001 + (i % 3),
    client: `ws-${i % 500}`,
    issuedAt: now - 2 * DAY,
    expiresAt: now + 28 * DAY + (i % 1000) * 60_000,
    binding,
    tag: hex(i + 1, 16),
    state: "active",
  }));
}

/** User + system CPU time of a process, all its threads, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function answers(url, headers) {
  try {
    const response = await fetch(url, { headers });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Spawns `keybridge serve --virtual`, times it until health and status answer, reads its RSS then. */
async function startOnce(dataDir) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [resolve("dist/src/cli/main.js"), "serve", "--virtual", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, KEYBRIDGE_LOG_LEVEL: "error" } },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  try {
    const waitFor = async (check) => {
      for (;;) {
        if (await check()) return;
        if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}: ${stderr.slice(-500)}`);
        if (performance.now() - started > 120_000) throw new Error("serve not ready within 120 s");
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    await waitFor(() => answers(`${base}/v1/health`));
    const tokenFile = join(dataDir, "api-token");
    await waitFor(async () => {
      if (!existsSync(tokenFile)) return false;
      const token = readFileSync(tokenFile, "utf8").trim();
      return answers(`${base}/v1/status`, { authorization: `Bearer ${token}` });
    });
    const ms = performance.now() - started;
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    const cpuMs = cpuMsOf(child.pid);
    const token = readFileSync(tokenFile, "utf8").trim();
    await waitFor(() => answers(`${base}/v1/reconcile`, { authorization: `Bearer ${token}` }));
    const reconciledMs = performance.now() - started;
    return { ms, rssMb, cpuMs, reconciledMs };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode === null ? child.on("exit", r) : r()));
  }
}

async function measure(label, dataDir) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await startOnce(dataDir));
  const ms = median(runs.map((r) => r.ms));
  const rssMb = median(runs.map((r) => r.rssMb));
  const cpuMs = median(runs.map((r) => r.cpuMs));
  const reconciledMs = median(runs.map((r) => r.reconciledMs));
  console.log(
    `${label.padEnd(34)} ready ${String(round(ms, 0)).padStart(5)} ms median of ${RUNS} ` +
      `(${runs.map((r) => round(r.ms, 0)).join(", ")}), CPU ${cpuMs} ms, RSS ${round(rssMb, 1)} MB, ` +
      `reconciled ${round(reconciledMs, 0)} ms`,
  );
  return { ms, rssMb, cpuMs, reconciledMs, first: runs[0] };
}

try {
  const emptyDir = tempDir("kb-start-empty-");
  const realisticDir = tempDir("kb-start-real-");
  const outstandingDir = tempDir("kb-start-out-");
  let t = performance.now();
  await seedRealistic(realisticDir);
  console.log(`seeded ${ROWS} rows (${HELD} held by the key) in ${round(performance.now() - t, 0)} ms`);
  t = performance.now();
  seedAllOutstanding(outstandingDir);
  console.log(`seeded ${ROWS} outstanding rows in ${round(performance.now() - t, 0)} ms`);

  const empty = await measure("anchor: empty data dir", emptyDir);
  const realistic = await measure(`${ROWS} rows, ${HELD} outstanding`, realisticDir);
  const outstanding = await measure(`${ROWS} rows, all outstanding`, outstandingDir);
  console.log(
    `ratio to the empty start: ${round(realistic.ms / empty.ms)}× and ${round(outstanding.ms / empty.ms)}×; ` +
      `first start of the all-outstanding ledger (writes ${ROWS} registry entries): ${round(outstanding.first.ms, 0)} ms`,
  );
  const verdict = (ok) => (ok ? "met" : "MISSED");
  console.log(
    `targets: ready ≤ ${TARGET_MS} ms ${verdict(realistic.ms <= TARGET_MS)} / ${verdict(outstanding.ms <= TARGET_MS)}, ` +
      `RSS ≤ ${TARGET_MB} MB ${verdict(realistic.rssMb <= TARGET_MB)} / ${verdict(outstanding.rssMb <= TARGET_MB)}`,
  );
  printFigures({
    ready_ms_100k: round(realistic.ms, 0),
    rss_mb_100k: round(realistic.rssMb, 1),
    ready_cpu_ms_100k: realistic.cpuMs,
    reconcile_answered_ms_100k: round(realistic.reconciledMs, 0),
    ready_ms_100k_all_outstanding: round(outstanding.ms, 0),
    rss_mb_100k_all_outstanding: round(outstanding.rssMb, 1),
    reconcile_answered_ms_100k_all_outstanding: round(outstanding.reconciledMs, 0),
    // One run only (the first start is the one that writes every registry entry): not a median.
    ready_ms_100k_all_outstanding_first_start: round(outstanding.first.ms, 0),
    rss_mb_100k_all_outstanding_first_start: round(outstanding.first.rssMb, 1),
  });
} finally {
  // BENCH_KEEP=1 keeps the seeded data directories for profiling a start by hand.
  if (process.env.BENCH_KEEP === "1") console.error(`kept: ${scratch.join(" ")}`);
  else for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
}

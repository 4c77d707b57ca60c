// Durable borrow cost and group-commit speedup, through the bridge, against a zero-latency
// virtual key whose state lives in memory (so the key's own state-file fsync is not counted).
//
//   npm run build && node test/bench/ledger.bench.mjs [DATA_PARENT_DIR]
//
// 1. fsync anchor: write 64 bytes + fsync a file in the data dir's filesystem, N times; median ms.
// 2. 1 client: sequential borrows; keybridge's own time per borrow = (wall time - the key's
//    measured busy time) / borrows, in units of one fsync (`borrow_cost_in_fsyncs`, target <= 1.5).
//    The key's busy time (`key.counters.busyMs`) is wall time during which the virtual key held a
//    report of ours, measured as it happened: its firmware (Ed25519 signing, state keeping) and,
//    at latency 0, nothing else. With one caller the key and keybridge never run at once, so
//    wall - busy is exactly keybridge's time.
// 3. 64 clients: 64 borrows in flight at once, refilled as each finishes; rate / 1-client rate
//    (`concurrency_speedup`, target >= 5: the ledger's group commit shares one fsync per batch).
//    Rates count keybridge's time only (the key's busy time subtracted in both), so a faster or
//    slower key model does not move them. Returns between rounds free the seats and are not timed.
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { MemoryKeyStore } from "../../dist/native-mocks/index.js";
import { openBridge } from "../../dist/src/bridge/index.js";
import { median, printFigures, round } from "./stats.mjs";

const FSYNC_SAMPLES = 200;
const SEQUENTIAL_BORROWS = 300;
const CONCURRENT_BORROWS = 1_280;
const CLIENTS = 64;
const ROUNDS = 5;
const SERIAL = "KB-BENCH-1";
const PRODUCT = 7;

const parent = process.argv[2] ?? tmpdir();
const dataDir = mkdtempSync(join(parent, "keybridge-ledger-bench-"));

/** Median ms of write + fsync; `append` grows the file by one 4 KiB page each time, as a WAL does. */
function fsyncMedianMs(append = false) {
  const file = join(dataDir, "fsync-probe.bin");
  const fd = openSync(file, "w");
  const block = Buffer.alloc(append ? 4096 : 64, 0x5a);
  const samples = [];
  try {
    for (let i = 0; i < FSYNC_SAMPLES; i++) {
      writeSync(fd, block, 0, block.length, append ? i * 4096 : (i % 64) * 64);
      const started = performance.now();
      fsyncSync(fd);
      samples.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return median(samples);
}

/** Runs `task` `total` times with `width` of them in flight, each lane starting the next as one ends. */
async function inLanes(total, width, task) {
  let issued = 0;
  const lane = async () => {
    while (issued < total) {
      issued++;
      await task();
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
}

const BORROWS_DDL = `CREATE TABLE borrows (serial TEXT NOT NULL, id INTEGER NOT NULL, op_id TEXT NOT NULL UNIQUE,
  product INTEGER NOT NULL, client TEXT NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  binding TEXT NOT NULL, tag TEXT NOT NULL, state TEXT NOT NULL, dummy_until INTEGER, settle_op_id TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, checksum TEXT NOT NULL,
  PRIMARY KEY (serial, id)) WITHOUT ROWID`;

/** A scratch SQLite file with the ledger's pragmas and borrows table, and a borrow-sized insert. */
function bareLedger(name) {
  const file = join(dataDir, name);
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(BORROWS_DDL);
  const insert = db.prepare("INSERT INTO borrows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)");
  const hex = (i, bytes) => i.toString(16).padStart(bytes * 2, "0");
  const now = Date.now();
  return {
    db,
    insert: (i) =>
      insert.run(
        SERIAL,
        i,
        hex(i, 16),
        PRODUCT,
        `c${i}`,
        now,
        now + 1e9,
        hex(i, 32),
        hex(i, 16),
        "active",
        now,
        now,
        hex(i, 32),
      ),
    close() {
      db.close();
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    },
  };
}

/**
 * The floor under any durable borrow on this disk: mean ms of one bare better-sqlite3 INSERT of a
 * borrow-sized row into a table shaped like the ledger's, committed alone, with the ledger's own
 * pragmas (WAL, synchronous=FULL) — no keybridge code at all. A mean, like the per-borrow figures,
 * so the WAL checkpoints it pays every ~1 000 pages count as they do for keybridge.
 */
function bareCommitMeanMs() {
  const ledger = bareLedger("floor-probe.db");
  try {
    const started = performance.now();
    for (let i = 1; i <= SEQUENTIAL_BORROWS; i++) ledger.insert(i);
    return (performance.now() - started) / SEQUENTIAL_BORROWS;
  } finally {
    ledger.close();
  }
}

/**
 * The ceiling on the group-commit speedup on this machine: the two things every borrow must do
 * whoever writes the code — check the key's Ed25519 signature (rule K9, on the threadpool as
 * keybridge does) and insert its row durably, the rows of one event-loop turn in one transaction
 * as keybridge's group commit does — with no keybridge code, 1 client versus 64, medians of rounds.
 */
async function barePipelineSpeedup() {
  const ledger = bareLedger("ceiling-probe.db");
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const answer = Buffer.alloc(128, 0x42);
  const signature = sign(null, answer, privateKey);
  let nextId = 1;
  let queued = [];
  let flushScheduled = false;
  const commitRow = (id) =>
    new Promise((resolveCommit) => {
      queued.push({ id, resolveCommit });
      if (flushScheduled) return;
      flushScheduled = true;
      setImmediate(() => {
        flushScheduled = false;
        const batch = queued;
        queued = [];
        ledger.db.exec("BEGIN IMMEDIATE");
        for (const item of batch) ledger.insert(item.id);
        ledger.db.exec("COMMIT");
        for (const item of batch) item.resolveCommit();
      });
    });
  const verified = () =>
    new Promise((resolveVerify, rejectVerify) =>
      verify(null, answer, publicKey, signature, (error, ok) =>
        ok ? resolveVerify() : rejectVerify(error ?? new Error("bad signature")),
      ),
    );
  const borrowBare = () => Promise.all([verified(), commitRow(nextId++)]);
  const perBorrowMs = async (total, width) => {
    const started = performance.now();
    await inLanes(total, width, borrowBare);
    return (performance.now() - started) / total;
  };
  try {
    await perBorrowMs(SEQUENTIAL_BORROWS, 1);
    await perBorrowMs(CONCURRENT_BORROWS, CLIENTS);
    const one = [];
    const many = [];
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      one.push(await perBorrowMs(SEQUENTIAL_BORROWS, 1));
      many.push(await perBorrowMs(CONCURRENT_BORROWS, CLIENTS));
    }
    return { oneMs: median(one), manyMs: median(many), speedup: median(one) / median(many) };
  } finally {
    ledger.close();
  }
}

const bridge = await openBridge(
  { dataDir, mode: "virtual", hostPollMs: 600_000, clockCheckMs: 600_000, driftCheckMs: 600_000 },
  { expiryCheckMs: 600_000, hotplugDebounceMs: 1 },
);
const key = bridge.world.bus.createKey({
  serial: SERIAL,
  licenses: [{ product: PRODUCT, seats: 60_000, borrowable: 60_000, borrowDays: 30 }],
  store: new MemoryKeyStore(),
  latencyMs: 0,
});
await bridge.virtual.plug(SERIAL);

let clientNo = 0;
const borrowOne = () => bridge.borrow({ product: PRODUCT, client: `c${clientNo++}`, serial: SERIAL });

/** Runs `total` borrows with `width` in flight; resolves keybridge's own ms (wall - key busy time). */
async function measure(total, width) {
  const firmwareBefore = key.counters.firmwareMs;
  const busyBefore = key.counters.busyMs;
  const started = performance.now();
  await inLanes(total, width, borrowOne);
  const wall = performance.now() - started;
  const firmware = key.counters.firmwareMs - firmwareBefore;
  const busy = key.counters.busyMs - busyBefore;
  return { ownMs: wall - busy, wallMs: wall, firmwareMs: firmware, keyMs: busy };
}

async function returnAll() {
  const ids = (await bridge.borrows({ serial: SERIAL })).map((b) => b.id);
  for (let i = 0; i < ids.length; i += CLIENTS) {
    await Promise.all(ids.slice(i, i + CLIENTS).map((id) => bridge.returnBorrow(id)));
  }
}

try {
  const fsyncMs = fsyncMedianMs();
  const appendFsyncMs = fsyncMedianMs(true);
  const floorMs = median([bareCommitMeanMs(), bareCommitMeanMs(), bareCommitMeanMs()]);
  const ceiling = await barePipelineSpeedup();
  // Warm-up as long as one timed round of each kind: JIT tiers, statement cache, WAL growth to its working size.
  await measure(SEQUENTIAL_BORROWS, 1);
  await measure(CONCURRENT_BORROWS, CLIENTS);
  await returnAll();

  const perBorrow1 = [];
  const perBorrow64 = [];
  const keyPerBorrow1 = [];
  const listingsBefore = bridge.context.keys.session(SERIAL)?.licenseListings ?? 0;
  const statsBefore = bridge.context.ledger.stats();
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    const one = await measure(SEQUENTIAL_BORROWS, 1);
    perBorrow1.push(one.ownMs / SEQUENTIAL_BORROWS);
    keyPerBorrow1.push(one.keyMs / SEQUENTIAL_BORROWS);
    await returnAll();
    const many = await measure(CONCURRENT_BORROWS, CLIENTS);
    perBorrow64.push(many.ownMs / CONCURRENT_BORROWS);
    await returnAll();
  }
  const own1 = median(perBorrow1);
  const own64 = median(perBorrow64);
  const figures = {
    borrow_cost_in_fsyncs: round(own1 / fsyncMs, 2),
    concurrency_speedup: round(own1 / own64, 2),
    fsync_ms_median: round(fsyncMs, 3),
    bare_commit_in_fsyncs: round(floorMs / fsyncMs, 2),
    bare_pipeline_speedup: round(ceiling.speedup, 2),
    bare_pipeline_in_fsyncs: round(ceiling.oneMs / fsyncMs, 2),
    borrows_per_s_1: round(1000 / own1, 0),
    borrows_per_s_64: round(1000 / own64, 0),
  };
  const stats = bridge.context.ledger.stats();
  const listings = (bridge.context.keys.session(SERIAL)?.licenseListings ?? 0) - listingsBefore;
  console.log(`data dir filesystem: ${parent}`);
  console.log(
    `method: own time = wall time - the virtual key's measured busy time (key.counters.busyMs: its firmware, ` +
      `signing and state keeping, as it ran); key time per sequential borrow ${round(median(keyPerBorrow1), 3)} ms`,
  );
  console.log(`fsync (64 B write + fsync), median of ${FSYNC_SAMPLES}: ${figures.fsync_ms_median} ms`);
  console.log(`for context, 4 KiB append + fsync (one WAL frame), median: ${round(appendFsyncMs, 3)} ms`);
  console.log(
    `floor: one bare SQLite insert committed alone (WAL, synchronous=FULL, no keybridge code), mean: ${round(floorMs, 3)} ms = ${figures.bare_commit_in_fsyncs} fsyncs`,
  );
  console.log(
    `ceiling: Ed25519 verify (K9, threadpool) + one SQLite insert per borrow, grouped per event-loop turn, no keybridge code: ` +
      `1 client ${round(ceiling.oneMs, 3)} ms (= ${figures.bare_pipeline_in_fsyncs} fsyncs), ${CLIENTS} clients ${round(ceiling.manyMs, 3)} ms per borrow = ${figures.bare_pipeline_speedup}x`,
  );
  console.log(
    `1 client:   ${round(own1, 3)} ms own time per borrow = ${figures.borrow_cost_in_fsyncs} fsyncs (target <= 1.5); ${figures.borrows_per_s_1} borrows/s`,
  );
  console.log(
    `${CLIENTS} clients: ${round(own64, 3)} ms own time per borrow; ${figures.borrows_per_s_64} borrows/s = ${figures.concurrency_speedup}x the 1-client rate (target >= 5)`,
  );
  console.log(
    `ledger: ${stats.commits} commits for ${stats.groupedWrites} writes (${round(stats.groupedWrites / Math.max(1, stats.commits), 1)} per commit); ` +
      `in the timed rounds (returns included): ${stats.commits - statsBefore.commits} commits; ` +
      `LIST_LICENSES sent: ${listings}`,
  );
  printFigures(figures);
} finally {
  await bridge.close();
  rmSync(dataDir, { recursive: true, force: true });
}

// A borrow's own cost beside the bare pipeline it cannot go under (docs/benchmarks.md), through
// the bridge, against a zero-latency virtual key whose state lives in memory:
//
//   npm run build && node test/bench/ledger.bench.mjs [DATA_PARENT_DIR]
//
// keybridge: sequential borrows; its own time per borrow = (wall time - the key's measured busy
// time) / borrows. The key's busy time (`key.counters.busyMs`) is wall time during which the
// virtual key held a report of ours: its firmware (Ed25519 signing, state keeping) and, at
// latency 0, nothing else. With one caller the key and keybridge never run at once, so wall -
// busy is exactly keybridge's time.
// floor: the two things any borrow must do, with no keybridge code: check the key's Ed25519
// signature over an answer of a BORROW answer's size (rule K9), then insert a borrow-sized row
// into a table shaped like the ledger's and commit it alone, with the ledger's pragmas (WAL,
// synchronous=FULL), on the same disk.
// `borrow_vs_floor` = keybridge's time per borrow ÷ the floor's (target ≤ 1.5). The two alternate
// round by round, so load from other processes hits both alike; figures are medians of rounds.
// The last line is one JSON object of the figures.
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { MemoryKeyStore } from "../../dist/native-mocks/index.js";
import { openBridge } from "../../dist/src/bridge/index.js";
import { setLogLevel } from "../../dist/src/log.js";
import { median, printFigures, round } from "./stats.mjs";

const BORROWS = Number(process.env.BENCH_BORROWS ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SERIAL = "KB-BENCH-1";
const PRODUCT = 7;
const TARGET = 1.5;
/** Nonce, command and status, then a BORROW answer's body: the bytes the key signs. */
const SIGNED_BYTES = 16 + 2 + 128;

setLogLevel("error");
const parent = process.argv[2] ?? tmpdir();
const dataDir = mkdtempSync(join(parent, "keybridge-ledger-bench-"));

const BORROWS_DDL = `CREATE TABLE borrows (serial TEXT NOT NULL, id INTEGER NOT NULL, op_id TEXT NOT NULL UNIQUE,
  product INTEGER NOT NULL, client TEXT NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  binding TEXT NOT NULL, tag TEXT NOT NULL, state TEXT NOT NULL, dummy_until INTEGER, settle_op_id TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, checksum TEXT NOT NULL,
  PRIMARY KEY (serial, id)) WITHOUT ROWID`;

/** The bare pipeline: verify, then one durable insert; `run(n)` returns ms per borrow. */
function barePipeline() {
  const file = join(dataDir, "floor.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(BORROWS_DDL);
  db.exec("CREATE INDEX borrows_state ON borrows (state)");
  const insert = db.prepare("INSERT INTO borrows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)");
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const answer = Buffer.alloc(SIGNED_BYTES, 0x42);
  const signature = sign(null, answer, privateKey);
  const hex = (i, bytes) => i.toString(16).padStart(bytes * 2, "0");
  let next = 1;
  const borrowOnce = () => {
    if (!verify(null, answer, publicKey, signature)) throw new Error("bad signature");
    const id = next++;
    const now = Date.now();
    insert.run(
      SERIAL,
      id,
      hex(id, 16),
      PRODUCT,
      `c${id}`,
      now,
      now + 1e9,
      hex(id, 32),
      hex(id, 16),
      "active",
      now,
      now,
      hex(id, 32),
    );
  };
  return {
    run(n) {
      const started = performance.now();
      for (let i = 0; i < n; i++) borrowOnce();
      return (performance.now() - started) / n;
    },
    close() {
      db.close();
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    },
  };
}

const bridge = await openBridge(
  { dataDir, mode: "virtual", hostPollMs: 600_000, clockCheckMs: 600_000, driftCheckMs: 600_000 },
  { expiryCheckMs: 600_000, hotplugDebounceMs: 1 },
);
const key = bridge.testSeams.world.bus.createKey({
  serial: SERIAL,
  licenses: [{ product: PRODUCT, seats: 60_000, borrowable: 60_000, borrowDays: 30 }],
  store: new MemoryKeyStore(),
  latencyMs: 0,
});
await bridge.virtual.plug(SERIAL);

let clientNo = 0;

/** `n` sequential borrows; keybridge's own ms per borrow and the key's. */
async function keybridgeRun(n) {
  const busyBefore = key.counters.busyMs;
  const started = performance.now();
  for (let i = 0; i < n; i++) await bridge.borrow({ product: PRODUCT, client: `c${clientNo++}`, serial: SERIAL });
  const wall = performance.now() - started;
  const busy = key.counters.busyMs - busyBefore;
  return { ownMs: (wall - busy) / n, keyMs: busy / n };
}

async function returnAll() {
  for (const borrow of await bridge.borrows({ serial: SERIAL })) await bridge.returnBorrow(borrow.id);
}

const floor = barePipeline();
try {
  // Warm-up as long as one timed round of each: JIT tiers, statement caches, WAL growth to its working size.
  floor.run(BORROWS);
  await keybridgeRun(BORROWS);
  await returnAll();
  const own = [];
  const keyTimes = [];
  const floors = [];
  for (let r = 0; r < ROUNDS; r++) {
    floors.push(floor.run(BORROWS));
    const run = await keybridgeRun(BORROWS);
    own.push(run.ownMs);
    keyTimes.push(run.keyMs);
    await returnAll();
  }
  const ownMs = median(own);
  const floorMs = median(floors);
  const ratio = ownMs / floorMs;
  console.log(`data dir filesystem: ${parent}`);
  console.log(
    `keybridge: ${round(ownMs, 3)} ms own time per sequential borrow (wall − the virtual key's measured busy time; ` +
      `the key: ${round(median(keyTimes), 3)} ms per borrow), median of ${ROUNDS} rounds of ${BORROWS}`,
  );
  console.log(
    `floor: Ed25519 verify of ${SIGNED_BYTES} bytes, then one SQLite insert committed alone (WAL, synchronous=FULL), ` +
      `no keybridge code: ${round(floorMs, 3)} ms per borrow`,
  );
  console.log(`borrow_vs_floor ${round(ratio, 2)} (target ≤ ${TARGET}: ${ratio <= TARGET ? "met" : "MISSED"})`);
  printFigures({
    borrow_vs_floor: round(ratio, 2),
    borrow_own_ms: round(ownMs, 3),
    borrow_floor_ms: round(floorMs, 3),
  });
} finally {
  floor.close();
  await bridge.close();
  rmSync(dataDir, { recursive: true, force: true });
}

// CodeMeter mode benchmarks (issue figures, not timed tests). Runs on the built output:
// `npm run build && node test/bench/codemeter.bench.mjs` (or `npm run bench:codemeter`).
//
// codemeter_log_mb_per_s: reading and parsing a License Tracking log (SYNTHETIC lines from the
//   grammar: Access/Release mostly, Borrow, License, Admin) with the follower keybridge uses,
//   side by side in the same run with the floor: a bare `readline` over the same file that splits
//   each line at ", " and does nothing else. Targets: ≥ 0.5× the floor and ≥ 50 MB/s. Both are
//   timed in CPU time of this process (user + system, file reads included), so other work on a
//   shared machine does not move the figures; wall-clock rates are printed beside them.
// codemeter_follow_cpu_pct: CPU used to follow an idle log directory holding a 1 GiB file (sparse:
//   the size is real, the disk blocks are not) and 20 smaller ones, at the watch's default poll
//   interval (2 s). Measured as CPU per poll over many back-to-back polls, divided by the
//   interval — what an idle day of polling costs, without waiting a day. Target ≤ 0.5 % of a core.
// codemeter_unplug_to_risk_ms_p99: a virtual bridge watching a SYNTHETIC simulated CodeMeter server
//   (native-mocks/codemeter-sim) with three CodeMeter borrows out; the server's CmStick is pulled off
//   the virtual bus ≥ 200 times (the USB detach, hotplug, the key manager, the CodeMeter watch, the
//   bridge's bus) and the time from the unplug call to the `risk.raised` event with source
//   `codemeter` is measured. Target p99 ≤ 5 ms.
//
// Last line: one JSON object of the figures.
import {
  closeSync,
  createReadStream,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { SimulatedCodeMeterServer } from "../../dist/native-mocks/codemeter-sim/index.js";
import { openBridge } from "../../dist/src/bridge/index.js";
import { FollowedTrackingLog, MemoryPositionStore } from "../../dist/src/codemeter/index.js";
import { setLogLevel } from "../../dist/src/log.js";
import { eventArrival } from "./events.mjs";
import { median, percentile, printFigures, round } from "./stats.mjs";

const LOG_MB = Number(process.env.CODEMETER_BENCH_MB ?? 128);
const RUNS = Number(process.env.CODEMETER_BENCH_RUNS ?? 5);
const POLLS = Number(process.env.CODEMETER_BENCH_POLLS ?? 400);
const POLL_INTERVAL_MS = 2000;
const TARGET_RATIO = 0.5;
const TARGET_MB_PER_S = 50;
const TARGET_CPU_PCT = 0.5;
const UNPLUG_ROUNDS = Number(process.env.CODEMETER_UNPLUG_ROUNDS ?? 250);
const UNPLUG_WARMUP = 20;
const TARGET_UNPLUG_P99_MS = 5;

/** Stick unplug → CodeMeter risk.raised on a virtual bridge beside the simulated server. */
async function unplugToRisk() {
  const root = join(work, "unplug");
  const sim = new SimulatedCodeMeterServer({ root: join(root, "codemeter"), start: Date.now() });
  sim.borrow("ws-1", "anna", 1001, 30);
  sim.borrow("ws-2", "ben", 1001, 20);
  sim.borrow("ws-3", "cleo", 2001, 10);
  const { serverIni, logDir, cmu } = sim.paths;
  const bridge = await openBridge(
    {
      dataDir: join(root, "data"),
      mode: "virtual",
      hostPollMs: 60_000,
      clockCheckMs: 60_000,
      driftCheckMs: 3_600_000,
      codemeter: { mode: "on", serverIni, logDir, cmu },
    },
    { expiryCheckMs: 3_600_000 },
  );
  try {
    const bus = bridge.testSeams.world.bus;
    const attached = eventArrival(bridge, (e) => e.type === "key.attached" && e.serial === sim.stickSerial);
    bus.addCodeMeterStick({ serial: sim.stickSerial, productId: 0x2af9 });
    await attached;
    const isRisk = (type) => (e) =>
      e.type === type && e.risk?.source === "codemeter" && e.risk?.kind === "key-unplugged";
    const samples = [];
    for (let i = 0; i < UNPLUG_WARMUP + UNPLUG_ROUNDS; i++) {
      const raised = eventArrival(bridge, isRisk("risk.raised"));
      const start = performance.now();
      bus.unplug(sim.stickSerial);
      const at = await raised;
      if (i >= UNPLUG_WARMUP) samples.push(at - start);
      const cleared = eventArrival(bridge, isRisk("risk.cleared"));
      bus.plug(sim.stickSerial);
      await cleared;
    }
    return samples;
  } finally {
    await bridge.close();
  }
}

setLogLevel("error");
const work = mkdtempSync(join(tmpdir(), "keybridge-codemeter-bench-"));

function ts(ms) {
  return new Date(ms).toISOString().slice(0, 19);
}

/** A block of synthetic entries in the proportions of a busy server: mostly access and release. */
function block(start, n) {
  const lines = [];
  for (let i = 0; i < 100; i++) {
    const at = ts(start + (n * 100 + i) * 1000);
    const id = `2-1500002-100532-18-${(n * 100 + i) % 5000}`;
    const client = `"ws-${i % 40}"`;
    if (i === 0) lines.push(`${at} Admin Server:"lic-srv" CodeMeter_started ${at}`);
    else if (i % 25 === 1) {
      lines.push(
        `${at} License Server:"lic-srv", LicenseID:2-1500002-100532-18, SN:2-1500002, FC:100532, PC:1001, FM:0, ET:never, LQ:10, PT:"Synthetic \\"CAD\\" Pro"`,
      );
    } else if (i % 10 === 2) {
      lines.push(
        `${at} Borrow Server:"lic-srv", LicenseID:2-1500002-100532-18, BorrowID:3-${7000000 + i}-100532-${i % 32}, Client:${client}, User:"user ${i}", Expires:${ts(start + 30 * 86_400_000)}, BorrowSn:3-${7000000 + i}`,
      );
    } else if (i % 2 === 0) {
      lines.push(`${at} Release Server:"lic-srv", AccessID:${id}`);
    } else {
      lines.push(
        `${at} Access Server:"lic-srv", LicenseID:2-1500002-100532-18, AccessID:${id}, Client:${client}, User:"user ${i}", AppID:77, AppText:"Synthetic CAD 27"`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

function writeLog(dir, megabytes) {
  const file = join(dir, "synthetic-license-tracking-fc100532.log");
  const fd = openSync(file, "w");
  let size = 0;
  let n = 0;
  const start = Date.UTC(2026, 0, 1);
  writeSync(
    fd,
    `${ts(start)} SignedLogfile FirmCode:100532, PublicKey:${"0".repeat(64)}, Runtime-Version:8.20a, LogfileId:1\n`,
  );
  while (size < megabytes * 1_048_576) {
    const text = block(start, n++);
    writeSync(fd, text);
    size += Buffer.byteLength(text);
  }
  closeSync(fd);
  return { file, size };
}

function cpuMsSince(start) {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

async function floorRun(file) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let fields = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) fields += line.split(", ").length;
  return { ms: performance.now() - started, cpuMs: cpuMsSince(cpu), count: fields };
}

async function followerRun(dir) {
  const log = new FollowedTrackingLog({ directory: dir, positions: () => new MemoryPositionStore() });
  let entries = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  let result = await log.read((batch) => {
    entries += batch.entries.length;
  });
  while (result.pending) {
    result = await log.read((batch) => {
      entries += batch.entries.length;
    });
  }
  return {
    ms: performance.now() - started,
    cpuMs: cpuMsSince(cpu),
    count: entries,
    malformed: result.status.malformedLines,
  };
}

try {
  // ---- throughput -------------------------------------------------------------------------
  const logDir = join(work, "log");
  mkdirSync(logDir);
  const { file, size } = writeLog(logDir, LOG_MB);
  const mb = size / 1_048_576;
  const floor = [];
  const ours = [];
  let entries = 0;
  let malformed = 0;
  await floorRun(file); // warm the page cache and the JIT for both
  await followerRun(logDir);
  for (let run = 0; run < RUNS; run++) {
    // Alternate the order so neither always runs on a cache the other warmed.
    const pair = run % 2 === 0 ? [floorRun(file), null] : [null, followerRun(logDir)];
    if (run % 2 === 0) {
      floor.push(await pair[0]);
      ours.push(await followerRun(logDir));
    } else {
      ours.push(await pair[1]);
      floor.push(await floorRun(file));
    }
    entries = ours.at(-1).count;
    malformed = ours.at(-1).malformed;
  }
  const rate = (runs, key) => mb / (median(runs.map((r) => r[key])) / 1000);
  const floorMbS = rate(floor, "cpuMs");
  const oursMbS = rate(ours, "cpuMs");
  const ratio = oursMbS / floorMbS;
  console.log(`tracking log: ${round(mb, 1)} MB, ${entries} entries (${malformed} malformed), median of ${RUNS} runs`);
  console.log(
    `  floor (readline + split):      ${round(floorMbS, 1)} MB per CPU-second (wall ${round(rate(floor, "ms"), 1)} MB/s)`,
  );
  console.log(
    `  keybridge (follow + parse):    ${round(oursMbS, 1)} MB per CPU-second (wall ${round(rate(ours, "ms"), 1)} MB/s)`,
  );
  console.log(
    `  ratio ${round(ratio, 2)}× the floor (target ≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? "met" : "NOT met"}); ` +
      `${round(oursMbS, 1)} MB/s (target ≥ ${TARGET_MB_PER_S}: ${oursMbS >= TARGET_MB_PER_S ? "met" : "NOT met"})`,
  );
  rmSync(logDir, { recursive: true, force: true });

  // ---- idle following ------------------------------------------------------------------------
  const idleDir = join(work, "idle");
  mkdirSync(idleDir);
  const big = join(idleDir, "synthetic-license-tracking-fc10.log");
  writeFileSync(
    big,
    `${ts(Date.UTC(2026, 0, 1))} SignedLogfile FirmCode:10, PublicKey:00, Runtime-Version:8.20a, LogfileId:1\n`,
  );
  const fd = openSync(big, "r+");
  ftruncateSync(fd, 1 << 30);
  writeSync(fd, "\n", (1 << 30) - 1);
  closeSync(fd);
  for (let i = 0; i < 20; i++) writeFileSync(join(idleDir, `synthetic-license-tracking-fc${100 + i}.log`), block(0, i));
  const follower = new FollowedTrackingLog({ directory: idleDir, positions: () => new MemoryPositionStore() });
  let caughtUp = await follower.read(() => undefined);
  while (caughtUp.pending) caughtUp = await follower.read(() => undefined);
  const bytesAfterCatchUp = follower.bytesRead();
  for (let i = 0; i < 20; i++) await follower.read(() => undefined); // warm-up
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < POLLS; i++) await follower.read(() => undefined);
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMsPerPoll = (cpu.user + cpu.system) / 1000 / POLLS;
  const cpuPct = (cpuMsPerPoll / POLL_INTERVAL_MS) * 100;
  console.log(
    `idle following: 21 files (one of 1 GiB), ${POLLS} polls: ${round(cpuMsPerPoll, 3)} ms CPU a poll, ` +
      `${follower.bytesRead() - bytesAfterCatchUp} bytes read while idle`,
  );
  console.log(
    `  at one poll per ${POLL_INTERVAL_MS} ms: ${round(cpuPct, 4)} % of a core (target ≤ ${TARGET_CPU_PCT} %: ${cpuPct <= TARGET_CPU_PCT ? "met" : "NOT met"})`,
  );

  // ---- stick unplug to risk -------------------------------------------------------------------
  const unplugs = await unplugToRisk();
  const unplugP50 = median(unplugs);
  const unplugP99 = percentile(unplugs, 99);
  console.log(
    `CmStick unplug → CodeMeter risk.raised over ${unplugs.length} unplugs (virtual bus, 3 CodeMeter borrows out)`,
  );
  console.log(
    `  p50 ${round(unplugP50, 3)} ms   p99 ${round(unplugP99, 3)} ms   max ${round(Math.max(...unplugs), 3)} ms ` +
      `(target p99 ≤ ${TARGET_UNPLUG_P99_MS} ms: ${unplugP99 <= TARGET_UNPLUG_P99_MS ? "met" : "NOT met"})`,
  );

  printFigures({
    codemeter_log_mb_per_s: round(oursMbS, 1),
    codemeter_log_floor_mb_per_s: round(floorMbS, 1),
    codemeter_log_vs_floor: round(ratio, 2),
    codemeter_follow_cpu_pct: round(cpuPct, 4),
    codemeter_unplug_to_risk_ms_p99: round(unplugP99, 3),
    codemeter_unplug_to_risk_ms_p50: round(unplugP50, 3),
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

// Transport CPU overhead per 1-report exchange against a zero-latency virtual key.
//
//   npm run build && node test/bench/transport.bench.mjs
//
// Total time per exchange (Transport.exchange of a small PING through NodeHidPort, the node-hid
// stand-in and the virtual wire) minus the firmware's own time for the same request (measured
// in the same run by feeding the firmware the identical report directly). The remainder is
// keybridge's transport plus the stand-in's plumbing, so it overstates the transport's share.
// Times are CPU time of this process (process.cpuUsage), measured in alternating slices so that
// load on the machine affects both alike. Prints the figures, the ratio to the 15 µs target,
// and one JSON line at the end.
import { randomBytes } from "node:crypto";
import {
  createDemoKey,
  createNodeHidStandIn,
  createUsbStandIn,
  KeyFirmware,
  MemoryKeyStore,
} from "../../dist/native-mocks/index.js";
import {
  AppCommand,
  BROADCAST_CID,
  decodeInitResponse,
  encodeFrames,
  encodeInitRequest,
  encodeRequestEnvelope,
  FrameCommand,
  MessageAssembler,
} from "../../dist/src/protocol/index.js";
import { listKeys, openHidPort, Transport, virtualHidBackend } from "../../dist/src/transport/index.js";

const TARGET_US = 15;
const BATCHES = 15;
const PER_BATCH = 2_000;
/** Within a batch the two measurements alternate in slices, so load changes hit both alike. */
const SLICE = 250;
const WARMUP = 2_000;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const payload = encodeRequestEnvelope({
  nonce: Uint8Array.from(randomBytes(16)),
  command: AppCommand.PING,
  body: Uint8Array.from([1, 2, 3, 4]),
});

// End to end through the transport.
const { bus } = createDemoKey({ latencyMs: 0 });
const backend = virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
const [device] = await listKeys(backend);
const transport = await Transport.open(await openHidPort(backend, device));

/** CPU time of this process in µs: other processes on the machine do not inflate it. */
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

async function exchangeBatch(count) {
  const started = cpuNow();
  for (let i = 0; i < count; i++) await transport.exchange(payload);
  return cpuNow() - started;
}

// The firmware alone, fed the same reports synchronously.
let answered = 0;
let initAnswer;
const assembler = new MessageAssembler();
const firmware = KeyFirmware.boot(
  {
    store: new MemoryKeyStore(),
    emit: (report) => {
      answered++;
      // Only the INIT answer is decoded, so the firmware's figure carries no host-side work.
      if (initAnswer !== undefined) return;
      const message = assembler.push(report);
      if (message?.cmd === FrameCommand.INIT) initAnswer = message.payload;
    },
  },
  { serial: "KB-BENCH-0001", licenses: [{ product: 1, seats: 1, borrowable: 1, borrowDays: 30 }] },
);
firmware.receive(encodeFrames(BROADCAST_CID, FrameCommand.INIT, encodeInitRequest(Uint8Array.from(randomBytes(8))))[0]);
const { cid } = decodeInitResponse(initAnswer);
const request = encodeFrames(cid, FrameCommand.MSG, payload);
if (request.length !== 1) throw new Error("the benchmark request must fit one report");

// A signed answer (2 + body + 64 bytes) never fits one 57-byte init packet: it takes 2 reports.
let reportsPerAnswer = 0;
function firmwareBatch(count) {
  const before = answered;
  const started = cpuNow();
  for (let i = 0; i < count; i++) firmware.receive(request[0]);
  const us = cpuNow() - started;
  const perAnswer = (answered - before) / count;
  if (reportsPerAnswer === 0) reportsPerAnswer = perAnswer;
  if (perAnswer !== reportsPerAnswer || !Number.isInteger(perAnswer)) {
    throw new Error(`firmware answered ${answered - before} reports to ${count} requests`);
  }
  return us;
}

await exchangeBatch(WARMUP);
firmwareBatch(WARMUP);

const totals = [];
const firmwareTimes = [];
const overheads = [];
for (let batch = 0; batch < BATCHES; batch++) {
  let total = 0;
  let own = 0;
  for (let done = 0; done < PER_BATCH; done += SLICE) {
    total += await exchangeBatch(SLICE);
    own += firmwareBatch(SLICE);
  }
  totals.push(total / PER_BATCH);
  firmwareTimes.push(own / PER_BATCH);
  overheads.push((total - own) / PER_BATCH);
}

await transport.close();
firmware.shutdown();
bus.close();

const overhead = median(overheads);
console.log(`request 1 report, answer ${reportsPerAnswer} reports`);
console.log(`exchange total      median ${median(totals).toFixed(2)} µs (${BATCHES} batches of ${PER_BATCH})`);
console.log(`firmware alone      median ${median(firmwareTimes).toFixed(2)} µs`);
console.log(
  `transport overhead  median ${overhead.toFixed(2)} µs (target ≤ ${TARGET_US} µs, ratio ${(overhead / TARGET_US).toFixed(2)})`,
);
console.log(JSON.stringify({ exchange_overhead_us_median: Number(overhead.toFixed(2)) }));

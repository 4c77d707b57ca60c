// Frame codec throughput: keybridge's framing vs @ledgerhq/devices 8.4 HID framing, same payloads,
// same run. Encode + decode of one message per iteration. Run: npm run build && node test/bench/codec.bench.mjs
import { createRequire } from "node:module";
import { encodeMessage, MessageAssembler } from "../../dist/src/protocol/frame.js";
import { geometricMean, printFigures, round, timePerIteration } from "./stats.mjs";

const require = createRequire(import.meta.url);
const createHIDframing = require("@ledgerhq/devices/lib/hid-framing").default;

const SIZES = [16, 64, 256, 1024, 4096];
const CHANNEL = 0x0101;

function payloadOf(size) {
  return Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff));
}

function keybridgeRoundTrip(payload, assembler) {
  const reports = encodeMessage(0x01020304, 0x03, payload);
  let message;
  for (let offset = 0; offset < reports.length; offset += 64) message = assembler.pushAt(reports, offset);
  if (message === undefined || message.payload.length !== payload.length) throw new Error("keybridge decode failed");
}

function ledgerRoundTrip(payload, framing) {
  const blocks = framing.makeBlocks(payload);
  let acc = null;
  for (const block of blocks) acc = framing.reduceResponse(acc, block);
  const result = framing.getReducedResult(acc);
  if (!result || result.length !== payload.length) throw new Error("ledger decode failed");
}

const rows = [];
for (const size of SIZES) {
  const payload = payloadOf(size);
  const iterations = Math.max(200, Math.round(400_000 / (size + 64)));
  const assembler = new MessageAssembler(0x01020304);
  const framing = createHIDframing(CHANNEL, 64);
  const ours = timePerIteration(() => keybridgeRoundTrip(payload, assembler), { iterations });
  const theirs = timePerIteration(() => ledgerRoundTrip(payload, framing), { iterations });
  rows.push({ size, ours, theirs, ratio: theirs / ours });
}

console.log("frame codec, encode + decode per message (median of 9 batches)");
console.log("payload B   keybridge µs   ledger µs   ratio");
for (const r of rows) {
  console.log(
    `${String(r.size).padStart(9)}   ${r.ours.toFixed(2).padStart(12)}   ${r.theirs.toFixed(2).padStart(9)}   ${r.ratio.toFixed(2).padStart(5)}×`,
  );
}
const ratio = geometricMean(rows.map((r) => r.ratio));
console.log(`geometric mean ratio: ${ratio.toFixed(2)}× (target ≥ 3×)`);
printFigures({ codec_ratio_vs_ledger: round(ratio) });

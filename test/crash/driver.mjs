// Crash-harness workload: opens a virtual bridge on DATA_DIR and runs a fixed script of borrows,
// returns, an expiry settle, a host change with migrate, and mirror flushes. Each step prints one
// JSON line to stdout once it is acknowledged (or, for "*-start" lines, just before it begins), so
// the parent knows exactly what the caller was told before the process died.
// Plain ESM against dist/ (run `npm run build` first). Usage: node driver.mjs DATA_DIR [workload|open]
import { openBridge } from "../../dist/src/bridge/index.js";

const DAY = 86_400_000;
const [dataDir, mode = "workload"] = process.argv.slice(2);
if (dataDir === undefined) {
  process.stderr.write("usage: node driver.mjs DATA_DIR [workload|open]\n");
  process.exit(2);
}

const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const bridge = await openBridge(
  {
    dataDir,
    mode: "virtual",
    // A short lag makes the mirror write between operations, so its crash points fall mid-workload.
    mirrorLagMs: 4,
    driftCheckMs: 600_000,
    hostPollMs: 600_000,
    clockCheckMs: 600_000,
  },
  { hotplugDebounceMs: 1, expiryCheckMs: 600_000 },
);
say({ op: "open" });

if (mode === "workload") await workload();
await bridge.close();
say({ op: "closed" });

async function borrow(product, client, days) {
  const view = await bridge.borrow(days === undefined ? { product, client } : { product, client, days });
  say({ op: "borrow", id: view.id, serial: view.serial, product: view.product, client });
  return view;
}

async function giveBack(view) {
  say({ op: "return-start", id: view.id });
  await bridge.returnBorrow(view.id);
  say({ op: "return", id: view.id });
}

async function flush() {
  await bridge.testSeams.mirror.flush();
  say({ op: "flushed" });
}

async function workload() {
  const b1 = await borrow(1001, "ws-01");
  const b2 = await borrow(1003, "laptop-02", 1);
  const b3 = await borrow(1001, "ws-03");
  await giveBack(b1);
  const b4 = await borrow(1003, "ws-04");
  await flush();

  // b2 is due after one day; the clock advance sweeps it (settle-expired).
  say({ op: "expire-start", id: b2.id });
  await bridge.virtual.advanceClock(DAY + 60_000);
  const b2row = bridge.testSeams.ledger.getBorrow(b2.serial, b2.id);
  if (b2row?.state === "settled") say({ op: "settled", id: b2.id });

  await giveBack(b3);
  await borrow(1001, "ws-05");

  // The server's IP changes while b4 and b5 are out; migrate rebinds them (K7).
  say({ op: "host-start" });
  await bridge.virtual.setHost({ ip: "198.51.100.23" });
  const migration = await bridge.migrate();
  say({ op: "migrate", rebound: migration.rebound, failed: migration.failed });

  await giveBack(b4);
  // Concurrent borrows share group commits and mirror batches.
  await Promise.all([borrow(1002, "ws-06"), borrow(1003, "ws-07"), borrow(1003, "ws-08")]);
  await flush();
}

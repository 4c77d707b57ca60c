// Runs the guest's checks against the gadget and prints one machine-readable line per check on
// the console, `KBVM {"check","ok","ms","detail","skipped"?}`, then `KBVM-DONE {"passed","failed","skipped"}`.
// KB_CHECKS=a,b limits the run to those checks.
import { readFileSync } from "node:fs";
import { CHECKS } from "./checks/index.mjs";
import { CheckSkipped, createContext } from "./lib/context.mjs";

const DEFAULT_TIMEOUT_MS = 30_000;
const config = await loadConfig();
const only = (process.env.KB_CHECKS ?? "").split(",").filter(Boolean);
const unknown = only.filter((name) => !CHECKS.some((c) => c.name === name));
const ctx = createContext(config);
let passed = 0;
let failed = 0;
let skipped = 0;

const emit = (line) => process.stdout.write(`${line}\n`);

for (const name of unknown) {
  failed++;
  emit(`KBVM ${JSON.stringify({ check: name, ok: false, ms: 0, detail: { error: "no such check" } })}`);
}

for (const check of CHECKS) {
  if (only.length > 0 && !only.includes(check.name)) continue;
  const start = performance.now();
  let ok = true;
  let skip;
  let detail;
  try {
    detail = await withTimeout(check.run(ctx), check.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  } catch (error) {
    if (error instanceof CheckSkipped) skip = error.message;
    else {
      ok = false;
      detail = { error: error.message, ...(error.code ? { code: error.code } : {}), ...(error.detail ?? {}) };
    }
  }
  try {
    await ctx.restore();
  } catch (error) {
    ok = false;
    detail = { ...detail, restoreError: error.message };
  }
  const ms = Math.round(performance.now() - start);
  if (!ok) failed++;
  else if (skip !== undefined) skipped++;
  else passed++;
  const result = {
    check: check.name,
    ok,
    ms,
    detail: detail ?? null,
    ...(skip === undefined ? {} : { skipped: skip }),
  };
  emit(`KBVM ${JSON.stringify(result)}`);
}

ctx.close();
emit(`KBVM-DONE ${JSON.stringify({ passed, failed, skipped })}`);
// Native handles (hotplug thread, a read stuck in a dead device) must not keep the guest up.
process.exit(failed > 0 ? 1 : 0);

/**
 * Where the key lives (from the builder) and what the guest wrote to configfs (from
 * `keybridge key setup`, read back from configfs by key-service.mjs).
 */
async function loadConfig() {
  const guest = JSON.parse(readFileSync(process.env.KB_GUEST_CONFIG ?? "/etc/keybridge-vm/guest.json", "utf8"));
  const gadget = JSON.parse(readFileSync(process.env.KB_GADGET_CONFIG ?? "/run/keybridge-vm/gadget.json", "utf8"));
  const { HID_USAGE_PAGE } = await import("/kb/dist/src/protocol/constants.js");
  return {
    ...guest,
    vendorId: gadget.idVendor,
    productId: gadget.idProduct,
    serial: gadget.serialNumber,
    manufacturer: gadget.manufacturer,
    product: gadget.product,
    reportSize: gadget.reportLength,
    usagePage: HID_USAGE_PAGE,
  };
}

function withTimeout(promise, timeoutMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`check timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

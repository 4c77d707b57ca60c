// Runs the guest's checks against the gadget and prints one machine-readable line per check on
// the console, `KBVM {"check","ok","ms","detail"}`, then `KBVM-DONE {"passed","failed"}`.
// KB_CHECKS=a,b limits the run to those checks.
import { readFileSync } from "node:fs";
import { CHECKS } from "./checks/index.mjs";
import { createContext } from "./lib/context.mjs";

const DEFAULT_TIMEOUT_MS = 30_000;
const config = JSON.parse(readFileSync(process.env.KB_GUEST_CONFIG ?? "/etc/keybridge-vm/guest.json", "utf8"));
const only = (process.env.KB_CHECKS ?? "").split(",").filter(Boolean);
const unknown = only.filter((name) => !CHECKS.some((c) => c.name === name));
const ctx = createContext(config);
let passed = 0;
let failed = 0;

const emit = (line) => process.stdout.write(`${line}\n`);

for (const name of unknown) {
  failed++;
  emit(`KBVM ${JSON.stringify({ check: name, ok: false, ms: 0, detail: { error: "no such check" } })}`);
}

for (const check of CHECKS) {
  if (only.length > 0 && !only.includes(check.name)) continue;
  const start = performance.now();
  let ok = true;
  let detail;
  try {
    detail = await withTimeout(check.run(ctx), check.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  } catch (error) {
    ok = false;
    detail = { error: error.message, ...(error.detail ?? {}) };
  }
  try {
    await ctx.restore();
  } catch (error) {
    ok = false;
    detail = { ...detail, restoreError: error.message };
  }
  const ms = Math.round(performance.now() - start);
  if (ok) passed++;
  else failed++;
  emit(`KBVM ${JSON.stringify({ check: check.name, ok, ms, detail: detail ?? null })}`);
}

ctx.close();
emit(`KBVM-DONE ${JSON.stringify({ passed, failed })}`);
// Native handles (hotplug thread, a read stuck in a dead device) must not keep the guest up.
process.exit(failed > 0 ? 1 : 0);

function withTimeout(promise, timeoutMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`check timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

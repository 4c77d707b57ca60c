#!/usr/bin/env node
// Runs the hardware-in-loop checks over a real Linux kernel: builds (or reuses) the guest,
// boots it in QEMU under TCG, reads the guest's `KBVM` lines from the serial console, prints a
// summary, and exits non-zero on any failed check, a guest that did not finish, or a timeout.
//
//   node test/vm/run-vm.mjs [--checks a,b] [--shell] [--rebuild] [--gzip] [--verbose]
//
// Environment: KEYBRIDGE_VM_TIMEOUT_S (default 900), KEYBRIDGE_VM_CACHE (default
// ~/.cache/keybridge-vm), KEYBRIDGE_VM_APPEND (extra kernel arguments), KEYBRIDGE_VM_VERBOSE=1,
// KEYBRIDGE_VM_SMP (guest CPUs, default 2 or the host's count if lower).
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { missingToolError, toolMissing, toolsRequired } from "../support/tools.mjs";
import { buildGuest, defaultCacheDir } from "./build-guest.mjs";

const QEMU = "qemu-system-x86_64";
const TAIL_LINES = 40;
const LATENCY_CHECK = "exchange-latency";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const shell = args.includes("--shell");
const verbose = args.includes("--verbose") || process.env.KEYBRIDGE_VM_VERBOSE === "1";
const timeoutS = Number(process.env.KEYBRIDGE_VM_TIMEOUT_S || 900);
const say = (message) => process.stderr.write(`[vm] ${message}\n`);

const qemuMissing = toolMissing(QEMU);
if (qemuMissing !== undefined) {
  // Under KEYBRIDGE_REQUIRE_TOOLS=1 (CI) a missing QEMU is a broken image: fail, do not skip.
  if (toolsRequired()) {
    process.stdout.write(`FAILED: ${missingToolError("the QEMU suite", qemuMissing).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`SKIPPED: ${qemuMissing}\n`);
  process.exit(0);
}

const startedAt = Date.now();
const cacheDir = defaultCacheDir();
const guest = await buildGuest({
  cacheDir,
  rebuild: args.includes("--rebuild"),
  ...(args.includes("--gzip") ? { compression: "gzip" } : {}),
});
const builtAt = Date.now();

const append = ["console=ttyS0", "quiet", "panic=-1"];
if (option("--checks")) append.push(`kb.checks=${option("--checks")}`);
if (shell) append.push("kb.shell");
if (process.env.KEYBRIDGE_VM_APPEND) append.push(...process.env.KEYBRIDGE_VM_APPEND.split(/\s+/).filter(Boolean));
// KVM hangs on the machines this runs on, and CI has none: always the TCG emulator.
// -net none: no network, and no iPXE option ROM to load.
// Two vCPUs (multi-threaded TCG) let the key's process and the host side run side by side: the
// whole run took 75 s instead of 109 s on a 2-core machine.
const cpus = process.env.KEYBRIDGE_VM_SMP || String(Math.min(2, availableParallelism()));
const qemuArgs = ["-accel", "tcg", "-m", "1024", "-smp", cpus, "-nographic", "-no-reboot", "-net", "none"];
qemuArgs.push("-kernel", guest.kernel, "-initrd", guest.initrd, "-append", append.join(" "));

if (shell) {
  // Interactive: the console is the terminal; no parsing, no timeout.
  say(`booting with a shell after the checks; type 'poweroff -f' to leave`);
  const qemu = spawn(QEMU, qemuArgs, { stdio: "inherit" });
  qemu.on("exit", (code) => process.exit(code ?? 1));
  process.on("SIGINT", () => {}); // Ctrl-C belongs to the guest's shell
} else {
  process.exit(await runHeadless());
}

async function runHeadless() {
  const logPath = join(cacheDir, "guest", "console.log");
  mkdirSync(join(cacheDir, "guest"), { recursive: true });
  const log = createWriteStream(logPath);
  // setpriv's parent-death signal takes QEMU down even if this process is killed outright.
  const withPdeathsig = !spawnSync("setpriv", ["--help"], { stdio: "ignore" }).error;
  const [command, commandArgs] = withPdeathsig
    ? ["setpriv", ["--pdeathsig", "SIGKILL", "--", QEMU, ...qemuArgs]]
    : [QEMU, qemuArgs];
  say(`booting ${guest.kernelVersion} under TCG (timeout ${timeoutS} s, console log ${logPath})`);
  const qemu = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "pipe"] });
  let qemuExited = false;
  const killQemu = () => {
    if (!qemuExited) qemu.kill("SIGKILL");
  };
  process.on("exit", killQemu);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      killQemu();
      say(`${signal}: QEMU stopped`);
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }

  const results = [];
  const malformed = [];
  const tail = [];
  let done = null;
  let firstResultAt = null;
  let pending = "";
  const onLine = (raw) => {
    // Serial lines end in CRLF and the firmware paints the screen with escape sequences.
    const line = raw.replace(/\r/g, "").replace(/\x1b\[[0-9;?]*[a-zA-Z]|\x1bc/g, "");
    log.write(`${line}\n`);
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    if (verbose) process.stderr.write(`  | ${line}\n`);
    const result = line.indexOf("KBVM {");
    const final = line.indexOf("KBVM-DONE {");
    try {
      if (result >= 0) {
        const parsed = JSON.parse(line.slice(result + 5));
        firstResultAt ??= Date.now();
        results.push(parsed);
        if (!verbose) say(`${outcomeOf(parsed).padEnd(4)} ${parsed.check} (${parsed.ms} ms)`);
      } else if (final >= 0) {
        done = JSON.parse(line.slice(final + 10));
      } else if (!verbose && line.includes("kbvm: ")) {
        say(`guest: ${line.slice(line.indexOf("kbvm: ") + 6)}`);
      }
    } catch (error) {
      malformed.push({ line, error: error.message });
    }
  };
  qemu.stdout.setEncoding("utf8");
  qemu.stdout.on("data", (chunk) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) onLine(line);
  });
  qemu.stderr.setEncoding("utf8");
  qemu.stderr.on("data", (chunk) => {
    for (const line of chunk.split("\n").filter(Boolean)) onLine(`[qemu] ${line}`);
  });

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killQemu();
  }, timeoutS * 1000);
  const exit = await new Promise((resolveExit) => {
    qemu.on("error", (error) => resolveExit({ code: null, error }));
    qemu.on("exit", (code, signal) => resolveExit({ code, signal }));
  });
  qemuExited = true;
  clearTimeout(timer);
  if (pending) onLine(pending);
  await new Promise((resolveLog) => log.end(resolveLog));
  const finishedAt = Date.now();

  printTable(results);
  const failures = results.filter((r) => !r.ok).length;
  let status = 0;
  if (timedOut) {
    say(`TIMEOUT: the guest did not finish within ${timeoutS} s (KEYBRIDGE_VM_TIMEOUT_S); QEMU killed`);
    status = 1;
  } else if (!done) {
    const how = exit.error ? exit.error.message : `exit code ${exit.code}${exit.signal ? `, ${exit.signal}` : ""}`;
    say(`BOOT FAILURE: the guest stopped without finishing its checks (QEMU ${how})`);
    status = 1;
  }
  if (status !== 0) {
    process.stdout.write(`--- last ${tail.length} console lines (all in ${logPath}) ---\n${tail.join("\n")}\n---\n`);
  }
  if (malformed.length > 0) {
    say(`${malformed.length} unreadable KBVM line(s): ${JSON.stringify(malformed[0])}`);
    status = 1;
  }
  if (done && done.failed !== failures) {
    say(`the guest counted ${done.failed} failure(s), the host saw ${failures}`);
    status = 1;
  }
  if (failures > 0) status = 1;

  const latency = results.find((r) => r.check === LATENCY_CHECK && r.ok)?.detail ?? {};
  const kernel = latency.kernel ?? {};
  const virtual = latency.virtual ?? {};
  const raw = latency.rawReport ?? {};
  const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const figure = (f) => `p50 ${f.p50 ?? "-"} ms, p99 ${f.p99 ?? "-"} ms (n=${f.n ?? 0})`;
  const out = (line) => process.stdout.write(`${line}\n`);
  out(
    `build ${seconds(builtAt - startedAt)}, boot to first result ${firstResultAt ? seconds(firstResultAt - builtAt) : "-"}, ` +
      `VM total ${seconds(finishedAt - builtAt)}`,
  );
  out(`exchange (Transport + KeyClient, PING and GET_INFO), kernel path under TCG: ${figure(kernel)}`);
  out(`exchange (Transport + KeyClient, PING and GET_INFO), virtual bus in the same guest: ${figure(virtual)}`);
  out(`raw one-report INIT exchange (node-hid write/read), kernel path: ${figure(raw)}`);
  const conformance = results.find((r) => r.check === "conformance")?.detail;
  if (conformance?.passed !== undefined) {
    out(`conformance: ${conformance.passed} passed, ${conformance.failed} failed, ${conformance.skipped} skipped`);
  }
  const skipped = results.filter((r) => r.ok && r.skipped).length;
  // A guest that never finished counts as one more failure, so the closing line never reads green.
  const unfinished = status !== 0 && failures === 0 ? 1 : 0;
  out(`vm: ${results.length - failures - skipped} passed, ${failures + unfinished} failed, ${skipped} skipped`);
  out(
    JSON.stringify({
      vm_exchange_ms_p50: kernel.p50 ?? null,
      vm_exchange_ms_p99: kernel.p99 ?? null,
      vm_virtual_exchange_ms_p50: virtual.p50 ?? null,
      vm_virtual_exchange_ms_p99: virtual.p99 ?? null,
      vm_raw_report_ms_p50: raw.p50 ?? null,
      vm_raw_report_ms_p99: raw.p99 ?? null,
    }),
  );
  return status;
}

function printTable(results) {
  const rows = results.map((r) => [r.check, outcomeOf(r), String(r.ms), r.skipped ?? summarize(r.detail)]);
  const header = ["check", "result", "ms", "detail"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const format = (row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${[header, ...rows].map(format).join("\n")}\n`);
  for (const failed of results.filter((r) => !r.ok)) {
    process.stdout.write(`FAIL ${failed.check}: ${JSON.stringify(failed.detail, null, 2)}\n`);
  }
}

function outcomeOf(result) {
  if (!result.ok) return "FAIL";
  return result.skipped ? "skip" : "ok";
}

function summarize(detail) {
  const text = detail === null || detail === undefined ? "" : JSON.stringify(detail);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

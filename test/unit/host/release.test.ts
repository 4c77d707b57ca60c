import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A child Node process runs the compiled host layer, starts both monitors and (depending on the
 * mode) closes them. Whether the child exits by itself is what a daemon's clean shutdown depends on.
 */
const ROOT = process.cwd();
let workDir: string;

async function transpile(sourceFile: string, outFile: string): Promise<void> {
  const output = ts.transpileModule(await readFile(join(ROOT, sourceFile), "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  });
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, output.outputText);
}

const CHILD = `
import { ClockMonitor, HostMonitor, MemoryLastSeenStore, SimulatedHostProbe, SystemHostProbe } from "./src/host/index.js";
const mode = process.argv[2];
// "ref" timers hold the process open: only close() can let it exit.
const timers = mode === "default" ? undefined : { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h) };
const probe = process.platform === "linux" ? new SystemHostProbe() : await SimulatedHostProbe.open();
// Intervals longer than the parent's deadline: a timer left armed would outlive the deadline.
const host = new HostMonitor(probe, { intervalMs: 60_000, timers });
const clock = new ClockMonitor(new MemoryLastSeenStore(), { intervalMs: 60_000, timers });
await host.start();
await clock.start();
await host.check();
await clock.tick();
if (mode !== "leak") { host.close(); clock.close(); }
process.stdout.write("started\\n");
`;

/** Resolves the exit code, or "still running" if the child has not exited after waitMs (then kills it). */
function runChild(mode: string, waitMs: number): Promise<number | "still running"> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(workDir, "child.mjs"), mode], { stdio: ["ignore", "pipe", "inherit"] });
    const deadline = setTimeout(() => {
      child.kill("SIGKILL");
      resolve("still running");
    }, waitMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(deadline);
      resolve(code ?? -1);
    });
  });
}

describe("monitors release the process", () => {
  beforeAll(async () => {
    // Under the repository so the child resolves rxjs and winston from its node_modules.
    await mkdir(join(ROOT, "test-artifacts"), { recursive: true });
    workDir = await mkdtemp(join(ROOT, "test-artifacts", "host-release-"));
    const sources = [
      "src/errors.ts",
      "src/log.ts",
      "src/serial-queue.ts",
      ...(await readdir(join(ROOT, "src/host"))).filter((f) => f.endsWith(".ts")).map((f) => `src/host/${f}`),
    ];
    for (const source of sources) await transpile(source, join(workDir, source.replace(/\.ts$/, ".js")));
    await writeFile(join(workDir, "package.json"), '{"type":"module"}');
    await writeFile(join(workDir, "child.mjs"), CHILD);
  });

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it("exits on its own after close(), even with timers that hold the process", async () => {
    expect(await runChild("close", 20_000)).toBe(0);
  });

  it("exits on its own without close(), because the default poll timers are unref'd", async () => {
    expect(await runChild("default", 20_000)).toBe(0);
  });

  it("control: holding timers without close() keeps the child alive", async () => {
    expect(await runChild("leak", 3_000)).toBe("still running");
  });
});

import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** Inside node_modules so that bare imports (rxjs, winston) resolve from the bundle's location. */
const CACHE_DIR = join(REPO_ROOT, "node_modules", ".cache", "keybridge-transport-tests");

export interface ChildOutcome {
  readonly exitCode: number | null;
  readonly killedAtDeadline: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Bundles a TypeScript snippet (imports relative to the repository root, e.g. "./src/...") and
 * runs it in a fresh node. A process that does not exit on its own is killed at the deadline,
 * which is what the "leaves no handle behind" tests look for.
 */
export async function runTypeScriptInChild(name: string, source: string, deadlineMs = 15_000): Promise<ChildOutcome> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const entry = join(CACHE_DIR, `${name}-${process.pid}.ts`);
  const output = join(CACHE_DIR, `${name}-${process.pid}.mjs`);
  // Imports written relative to the repository root are made absolute, so the entry can live in the cache.
  writeFileSync(entry, source.replaceAll('from "./', `from "${REPO_ROOT}`));
  try {
    const bundle = await rolldown({
      input: entry,
      platform: "node",
      cwd: REPO_ROOT,
      external: (id) => !id.startsWith(".") && !id.startsWith("/"),
      logLevel: "silent",
    });
    await bundle.write({ file: output, format: "esm" });
    await bundle.close();
  } finally {
    const { rmSync } = await import("node:fs");
    rmSync(entry, { force: true });
  }
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [output],
      { cwd: REPO_ROOT, timeout: deadlineMs, killSignal: "SIGKILL", encoding: "utf8" },
      (error, stdout, stderr) => {
        const killed = error !== null && "killed" in error && error.killed === true;
        resolve({ exitCode: child.exitCode, killedAtDeadline: killed, stdout, stderr });
      },
    );
  });
}

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import ts from "typescript";

const repo = resolve(import.meta.dirname, "../../..");

/**
 * The registry code compiled to plain JavaScript under test-artifacts/ (inside the repository,
 * so the child resolves winston from node_modules), for tests that need a second process.
 */
export async function buildRegistryForChild(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = join(repo, "test-artifacts", `registry-child-${process.pid}-${Date.now()}`);
  const sources = [
    "src/errors.ts",
    "src/log.ts",
    "src/serial-queue.ts",
    ...(await readdir(join(repo, "src/registry"))).filter((f) => f.endsWith(".ts")).map((f) => `src/registry/${f}`),
  ];
  for (const source of sources) {
    const output = ts.transpileModule(await readFile(join(repo, source), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: source,
    });
    const target = join(dir, source.replace(/\.ts$/, ".js"));
    await mkdir(join(target, ".."), { recursive: true });
    await writeFile(target, output.outputText);
  }
  await writeFile(join(dir, "child.js"), CHILD_SCRIPT);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const CHILD_SCRIPT = `
import { acquireFileLock } from "./src/registry/file-lock.js";
import { IniRegistry } from "./src/registry/ini-registry.js";

const [mode, file] = process.argv.slice(2);
if (mode === "hold-lock") {
  const lock = await acquireFileLock(file + ".lock");
  process.stdout.write("locked\\n");
  process.stdin.once("data", async () => {
    await lock.release();
    process.stdout.write("released\\n");
    process.exit(0);
  });
} else if (mode === "crash-before-rename") {
  const registry = new IniRegistry({
    path: file,
    hooks: { beforeRename: () => { process.kill(process.pid, "SIGKILL"); } },
  });
  await registry.set("SOFTWARE\\\\keybridge\\\\Borrows\\\\K-1\\\\2", "Product", { type: "u32", value: 2002 });
  process.stdout.write("not killed\\n");
}
`;

export function spawnChild(dir: string, mode: string, file: string): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [join(dir, "child.js"), mode, file], { stdio: "pipe" });
}

export function waitForLine(child: ChildProcessWithoutNullStreams, line: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let seen = "";
    let errors = "";
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.split("\n").includes(line)) {
        child.stdout.off("data", onData);
        resolvePromise();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`child exited (${code ?? signal}) before "${line}": ${errors}`)),
    );
  });
}

export function waitForExit(
  child: ChildProcessWithoutNullStreams,
): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolvePromise({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once("exit", (code, signal) => resolvePromise({ code, signal }));
  });
}

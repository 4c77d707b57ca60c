import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { tempDataDir } from "./helpers.js";

const repo = resolve(import.meta.dirname, "../../..");
const artifacts = join(repo, "test-artifacts", `bridge-exit-${process.pid}-${Date.now()}`);

async function sourcesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(join(repo, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sourcesUnder(path)));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}

/** src/ and native-mocks/ as plain JavaScript inside the repository (so node_modules resolves). */
async function build(): Promise<void> {
  for (const source of [...(await sourcesUnder("src")), ...(await sourcesUnder("native-mocks"))]) {
    const output = ts.transpileModule(await readFile(join(repo, source), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: source,
    });
    const target = join(artifacts, relative(".", source).replace(/\.ts$/, ".js"));
    await mkdir(join(target, ".."), { recursive: true });
    await writeFile(target, output.outputText);
  }
  await writeFile(
    join(artifacts, "child.js"),
    `import { openBridge } from "./src/bridge/index.js";
const bridge = await openBridge({ dataDir: process.argv[2], mode: "virtual" });
const borrow = await bridge.borrow({ product: 1001, client: "exit-test" });
await bridge.returnBorrow(borrow.id);
await bridge.close();
process.stdout.write("closed\\n");
`,
  );
}

afterAll(async () => {
  await rm(artifacts, { recursive: true, force: true });
});

describe("process lifetime", () => {
  it("a process that opens and closes a bridge exits by itself", async () => {
    await build();
    const child = spawn(process.execPath, [join(artifacts, "child.js"), tempDataDir()], {
      env: { ...process.env, KEYBRIDGE_LOG_LEVEL: "error" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const code = await new Promise<number | null>((done) => child.on("exit", (exitCode) => done(exitCode)));
    clearTimeout(killer);
    expect(stderr).toBe("");
    expect(stdout).toBe("closed\n");
    expect(code).toBe(0);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliDeps, run } from "../../../src/cli/program.js";
import { type Harness, startHarness, TOKEN } from "../server/helpers.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: unknown;
}

export interface CliHarness extends Harness {
  dataDir: string;
  cli(...args: string[]): Promise<CliResult>;
}

/** A server over the fake bridge, and a data directory whose daemon.json and api-token point at it. */
export async function startCli(options: Parameters<typeof startHarness>[0] = {}): Promise<CliHarness> {
  const harness = await startHarness(options);
  const dataDir = mkdtempSync(join(tmpdir(), "kb-cli-"));
  writeFileSync(join(dataDir, "api-token"), `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(
    join(dataDir, "daemon.json"),
    JSON.stringify({
      pid: process.pid,
      url: harness.url,
      started: new Date().toISOString(),
      mode: "virtual",
      version: "0",
    }),
  );
  return {
    ...harness,
    dataDir,
    cli: (...args) => runCli(args, { HOME: dataDir }, dataDir),
    async close() {
      await harness.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  dataDir?: string,
  deps: CliDeps = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const argv = dataDir === undefined ? args : [...args, "--data-dir", dataDir];
  const code = await run(
    argv,
    {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env,
      interrupted: new Promise((resolve) => setTimeout(resolve, 300)),
    },
    deps,
  );
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr, json };
}

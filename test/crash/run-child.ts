import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const DRIVER = fileURLToPath(new URL("./driver.mjs", import.meta.url));

/** One line the driver printed: an operation acknowledged (or, for `*-start`, begun). */
export interface Ack {
  op: string;
  id?: number;
  serial?: string;
  product?: number;
  client?: string;
  rebound?: number;
}

export interface ChildRun {
  acks: Ack[];
  /** "SIGKILL" when the process died at a crash point or by the parent's kill. */
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

export interface ChildOptions {
  dataDir: string;
  mode: "workload" | "open";
  crashAt?: string;
  /** SIGKILL this many ms after the driver said "open" (or after spawn, with `killFrom: "spawn"`). */
  killAfterMs?: number;
  killFrom?: "open" | "spawn";
  timeoutMs?: number;
}

/** Runs the driver once; resolves when it exits, however it exits. */
export function runChild(options: ChildOptions): Promise<ChildRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, KEYBRIDGE_LOG_LEVEL: "error", KEYBRIDGE_LOG_FORMAT: "json" };
  delete env.KEYBRIDGE_CRASH_AT;
  delete env.VITEST;
  if (options.crashAt !== undefined) env.KEYBRIDGE_CRASH_AT = options.crashAt;
  const child = spawn(process.execPath, [DRIVER, options.dataDir, options.mode], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const acks: Ack[] = [];
  let stdout = "";
  let stderr = "";
  let killTimer: NodeJS.Timeout | undefined;
  const armKill = () => {
    if (options.killAfterMs === undefined || killTimer !== undefined) return;
    killTimer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
  };
  if (options.killFrom === "spawn") armKill();
  const watchdog = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdout += chunk;
    let newline = stdout.indexOf("\n");
    while (newline >= 0) {
      const line = stdout.slice(0, newline);
      stdout = stdout.slice(newline + 1);
      newline = stdout.indexOf("\n");
      if (!line.startsWith('{"op"')) continue;
      const ack = JSON.parse(line) as Ack;
      acks.push(ack);
      if (ack.op === "open") armKill();
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killTimer);
      clearTimeout(watchdog);
      resolve({ acks, signal, code, stderr });
    });
  });
}

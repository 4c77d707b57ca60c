#!/usr/bin/env node
import { logToStderr } from "../log.js";
import { run } from "./program.js";

// stdout belongs to command output; only the daemon (serve) logs there.
if (!process.argv.slice(2).includes("serve")) logToStderr();

const interrupted = new Promise<void>((resolve) => {
  if (process.argv.slice(2).includes("serve")) return;
  process.once("SIGINT", () => resolve());
});

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  interrupted,
});
process.exitCode = code;
if (!process.argv.slice(2).includes("events")) process.exit(code);

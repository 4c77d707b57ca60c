#!/usr/bin/env node
import { logToStderr } from "../log.js";
import { run } from "./program.js";

const argv = process.argv.slice(2);
const serving = argv.includes("serve");

// stdout belongs to command output; only the daemon (serve) logs there.
if (!serving) logToStderr();

// Ctrl-C ends `events --follow` cleanly; `serve` installs its own graceful handlers.
const interrupted = new Promise<void>((resolve) => {
  if (!serving) process.once("SIGINT", () => resolve());
});

const code = await run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, interrupted });
// Exit now rather than wait for idle keep-alive sockets of fetch to time out.
process.exit(code);

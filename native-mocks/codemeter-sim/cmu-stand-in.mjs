// SYNTHETIC: a stand-in for WIBU's `cmu` (CodeMeter Universal Support Tool), part of keybridge's
// simulated CodeMeter installation. It prints the few cmu output lines known from public texts
// (`CodeMeter-Service: … not running`, `Operating System:`, `Result: N CmContainer(s) listed.`)
// and the container serials, from the simulator's state file. It never comes from WIBU and
// never claims to reproduce cmu's full output. The simulator writes a small launcher with a
// shebang that calls `main(args, stateFile)`.
import { appendFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

function readState(stateFile) {
  try {
    return JSON.parse(readFileSync(stateFile, "utf8"));
  } catch (error) {
    process.stderr.write(`cmu stand-in: cannot read the simulator state ${stateFile}: ${error.message}\n`);
    process.exit(70);
  }
}

function versionText(state) {
  return [
    "CodeMeter Universal Support Tool (SYNTHETIC stand-in of keybridge's CodeMeter simulator).",
    `Version ${state.version} of 2026-Jan-01 (Build 0) for Linux`,
    state.running
      ? `CodeMeter-Service:       running, version ${state.version}`
      : "CodeMeter-Service:       not running",
    "Operating System:        Linux (simulated)",
    "",
  ].join("\n");
}

function listText(state) {
  const lines = state.running ? state.containers.map((serial) => `  ${serial}   CmStick (simulated)`) : [];
  const count = state.running ? state.containers.length : 0;
  return [...lines, `Result: ${count} CmContainer(s) listed.`, ""].join("\n");
}

export function main(args, stateFile) {
  // The simulator's own bookkeeping (next to its state, outside the simulated CodeMeter tree):
  // which options were asked for, so tests can check only read-only ones ever are.
  appendFileSync(join(dirname(stateFile), "invocations.log"), `${JSON.stringify(args)}\n`);
  const state = readState(stateFile);
  switch (state.behaviour) {
    case "hang":
      // Never answers: the caller's timeout must end it.
      setInterval(() => undefined, 60_000);
      return;
    case "garbage":
      process.stdout.write(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0xc3, 0x28, 0x0a]));
      process.stdout.write("segfault? \u0007\u0001\n");
      return;
    case "fail":
      process.stderr.write("cmu: synthetic failure (the simulator was told to fail)\n");
      process.exitCode = 2;
      return;
    default:
      break;
  }
  const option = args[0] ?? "--help";
  if (option === "--version" || option === "-v") {
    process.stdout.write(versionText(state));
    return;
  }
  if (option === "--list" || option === "-l") {
    process.stdout.write(listText(state));
    return;
  }
  process.stderr.write(`cmu stand-in: option ${option} is not simulated\n`);
  process.exitCode = 1;
}

// The board's systemd unit, systemd/keybridge-key.service, as the guest runs it: its Environment=
// defaults and its ExecStartPre / ExecStart / ExecStopPost command lines, with /usr/bin/keybridge
// replaced by this build's CLI. The guest has no systemd; reading the shipped unit instead of
// copying its commands means the guest runs exactly what a board runs.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

export const UNIT_FILE = "/kb/systemd/keybridge-key.service";
const CLI = ["/kb/dist/src/cli/main.js"];

export function readKeyUnit(path = UNIT_FILE) {
  const service = new Map();
  let section;
  for (const raw of readFileSync(path, "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const match = /^(\w+)=(.*)$/.exec(line);
    if (!match || section !== "Service") continue;
    service.set(match[1], [...(service.get(match[1]) ?? []), match[2]]);
  }
  const environment = {};
  for (const assignment of service.get("Environment") ?? []) {
    const at = assignment.indexOf("=");
    environment[assignment.slice(0, at)] = assignment.slice(at + 1);
  }
  // EnvironmentFile= overrides Environment=, as systemd reads them; "-" means the file may be absent.
  for (const entry of service.get("EnvironmentFile") ?? []) {
    const file = entry.startsWith("-") ? entry.slice(1) : entry;
    if (entry.startsWith("-") && !existsSync(file)) continue;
    Object.assign(environment, readEnvironmentFile(file));
  }
  const command = (line) => {
    // systemd's "-" prefix: a failure of this command does not fail the unit.
    const ignoreFailure = line.startsWith("-");
    const [binary, ...args] = (ignoreFailure ? line.slice(1) : line).split(/\s+/);
    const argv = binary === "/usr/bin/keybridge" ? [process.execPath, ...CLI, ...args] : [binary, ...args];
    return { line, argv, ignoreFailure };
  };
  const commands = (key) => (service.get(key) ?? []).map(command);
  const [start] = commands("ExecStart");
  if (!start) throw new Error(`${path} has no ExecStart=`);
  return { environment, startPre: commands("ExecStartPre"), start, stopPost: commands("ExecStopPost") };
}

/** KEY=VALUE lines of an EnvironmentFile= (comments and blank lines skipped, one level of quotes removed). */
function readEnvironmentFile(path) {
  const environment = {};
  for (const raw of readFileSync(path, "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    environment[match[1]] = match[2].replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  }
  return environment;
}

/** The environment the unit's commands run with: the unit's defaults under what the guest passes. */
export function unitEnvironment(unit) {
  return { ...process.env, ...unit.environment };
}

/** Runs unit command lines in order, as systemd does for ExecStartPre= and ExecStopPost=; throws on a failure. */
export function runUnitCommands(unit, commands, extraArgs = []) {
  const results = [];
  for (const command of commands) {
    const result = spawnSync(command.argv[0], [...command.argv.slice(1), ...extraArgs], {
      env: unitEnvironment(unit),
      encoding: "utf8",
    });
    results.push({ line: command.line, status: result.status, stdout: result.stdout, stderr: result.stderr });
    if (result.status !== 0 && !command.ignoreFailure) {
      const error = new Error(`${command.line} exited with ${result.status}: ${result.stderr.trim()}`);
      error.results = results;
      throw error;
    }
  }
  return results;
}

/** Runs `keybridge ARGS` (this build's CLI) with the unit's environment, as an admin on the board would. */
export function keybridge(unit, args, options = {}) {
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: { ...unitEnvironment(unit), ...(options.env ?? {}) },
    encoding: "utf8",
  });
  let json;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    json = undefined;
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, json };
}

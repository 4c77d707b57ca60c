import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import type { CodeMeterView } from "../../bridge/api.js";
import type { CodeMeterDetection } from "../codemeter-local.js";
import { captureSummary, captureSummaryText } from "../codemeter-summary.js";
import { type CommandKit, example, integer, loadConfig, writePrivateFile } from "../command-kit.js";
import { CaptureOutRefusedError } from "../errors.js";
import { codeMeterText } from "../render-codemeter.js";

/**
 * `keybridge codemeter`: the read-only CodeMeter mode seen from the command line. `capture` runs
 * on this host without the daemon; the bare command prints the daemon's CodeMeter view
 * (`GET /v1/codemeter`).
 */

const CAPTURE_HELP = `
What a capture holds (one JSON file, mode 0600):
  - what cmu printed for \`cmu --version\` and \`cmu --list\`, exactly as printed;
  - the server configuration keybridge uses (Server.ini, or the registry key on Windows): License
    Tracking on or off and its directory, ports, bind address, runtime version; the three Borrow
    sections only as fingerprints (present, number of values, a SHA-256), never their content;
  - the last N lines of each License Tracking log file (--entries, default 200);
  - the CmSticks on USB, the versions of keybridge, Node.js, the platform and the CodeMeter runtime;
  - the borrow view keybridge rebuilds from the whole log, and whether the CodeMeter mode would run
    on this host (codemeter.mode against what was found) and why.

Names are hashed unless --no-redact: client, user and server names (in the log lines and the borrow
view) are replaced by HMAC-SHA256 hashes with a random salt that is not in the file. The same name
has the same hash within one capture, so borrows can still be followed, but a hash cannot be looked
up. A log line keybridge cannot read could hold anything, so a redacted capture leaves it out.
Use --no-redact only for a capture that stays in your organisation.

It reads, nothing else: CodeMeter's files are opened read-only, cmu is run with --version and
--list only, the daemon is not needed and its data is not touched, and the capture is never written
inside CodeMeter's directories. The paths are keybridge's configuration (codemeter.serverIni,
codemeter.logDir, codemeter.cmu, or their KEYBRIDGE_CODEMETER_* variables), else the platform's.
Run it as the account keybridge runs as (sudo -u keybridge keybridge codemeter capture ...) to see
what the service can read, or with sudo to see everything.

To report a bug: run it, read the file (it is plain JSON), and attach it to the report.
`;

/** keybridge's own version, from the package.json above this module (in the sources or in dist/). */
function keybridgeVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown; version?: unknown };
        if (parsed.name === "keybridge" && typeof parsed.version === "string") return parsed.version;
      } catch {
        // Not keybridge's manifest (or unreadable): keep looking above it.
      }
    }
    dir = dirname(dir);
  }
  return "unknown";
}

function inside(file: string, dir: string): boolean {
  const path = relative(dir, file);
  return path === "" || (!path.startsWith("..") && !isAbsolute(path));
}

/** The capture must not land on or among CodeMeter's own files. */
function refuseCodeMeterTarget(file: string, detection: CodeMeterDetection): void {
  const { where, trackingDir, cmuPath } = detection;
  if (file === resolve(where.serverConfig)) throw new CaptureOutRefusedError(file, "CodeMeter's server configuration");
  if (cmuPath !== null && file === resolve(cmuPath)) throw new CaptureOutRefusedError(file, "CodeMeter's cmu");
  if (inside(file, resolve(trackingDir.path))) {
    throw new CaptureOutRefusedError(file, `inside CodeMeter's License Tracking directory ${trackingDir.path}`);
  }
  if (inside(file, dirname(resolve(where.serverConfig))) && detection.found.serverConfig) {
    throw new CaptureOutRefusedError(file, `inside CodeMeter's configuration directory ${dirname(where.serverConfig)}`);
  }
}

export function registerCodeMeter(program: Command, kit: CommandKit): void {
  const { io, deps, globals, show, client } = kit;
  const codemeter = program
    .command("codemeter")
    .description(
      "the CodeMeter license server on this host, guarded read-only: runtime, service, tracking, sticks, borrows, risks",
    )
    .addHelpText(
      "after",
      "\nkeybridge watches a CodeMeter license server's borrows from what it shows from outside (Server.ini,\n" +
        "cmu, the License Tracking log, the CmSticks on USB) and never writes anything of CodeMeter's.\n" +
        "Without a subcommand: what the daemon sees — the runtime's version and service, License Tracking\n" +
        "(keybridge sees CodeMeter borrows only while it is on), the CmSticks, each CodeMeter borrow with its\n" +
        "expiry, and the open CodeMeter risks. On a host without CodeMeter it says so (enabled: false).\n" +
        "`capture` writes what the mode reads on this host to one file, without the daemon.\n" +
        example(
          "keybridge codemeter",
          "keybridge codemeter --json",
          "keybridge codemeter capture --out /tmp/codemeter-capture.json",
        ),
    )
    .action(async (_options: unknown, command: Command) => {
      show(command, await client(command).json<CodeMeterView>("GET", "/v1/codemeter"), codeMeterText);
    });

  codemeter
    .command("capture")
    .description(
      "write one JSON file of what the CodeMeter mode reads on this host, for a bug report (no daemon needed)",
    )
    .requiredOption("--out <file>", "the file to write (mode 0600; replaced if it exists)")
    .option("--no-redact", "keep client, user and server names as they are (default: replaced by hashes)")
    .option(
      "--entries <n>",
      "License Tracking log lines kept from the end of each file (0–100000)",
      integer("--entries", 0, 100_000),
      200,
    )
    .addHelpText(
      "after",
      CAPTURE_HELP +
        example(
          "keybridge codemeter capture --out /tmp/codemeter-capture.json",
          "sudo -u keybridge keybridge codemeter capture --out /tmp/cm.json --entries 1000",
          "KEYBRIDGE_CODEMETER_LOG_DIR=/srv/cm/tracking keybridge codemeter capture --out cm.json --json",
        ),
    )
    .action(async (options: { out: string; redact: boolean; entries: number }, command: Command) => {
      const g = globals(command);
      const loaded = await loadConfig({
        flags: { dataDir: g.dataDir },
        env: io.env,
        ...(g.config ? { configFile: g.config } : {}),
      });
      const { mode, serverIni, logDir, cmu } = loaded.config.codemeter;
      const file = resolve(options.out);
      const { captureLocally } = await import("../codemeter-local.js");
      const usbBackend = deps.usbBackend === undefined ? undefined : await deps.usbBackend();
      const capture = await captureLocally({
        mode,
        env: io.env,
        ...(serverIni === undefined ? {} : { serverIni }),
        ...(logDir === undefined ? {} : { logDir }),
        ...(cmu === undefined ? {} : { cmu }),
        ...(usbBackend === undefined ? {} : { usbBackend }),
        redact: options.redact,
        lastLines: options.entries,
        keybridgeVersion: keybridgeVersion(),
      });
      refuseCodeMeterTarget(file, capture.detection);
      const text = `${JSON.stringify(capture.bundle, null, 2)}\n`;
      writePrivateFile(file, text);
      const summary = captureSummary(capture, { file, bytes: Buffer.byteLength(text), entries: options.entries });
      show(command, summary, captureSummaryText);
    });
}

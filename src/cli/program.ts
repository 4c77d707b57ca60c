import { Command, CommanderError } from "commander";
import { ConfigInvalidError } from "../config/errors.js";
import { isCodedError } from "../errors.js";
import { ApiClient, resolveEndpoint } from "./client.js";
import { type CliDeps, type CommandKit, example, type GlobalOptions } from "./command-kit.js";
import { registerCodeMeter } from "./commands/codemeter.js";
import { registerLocalCommands, registerServe } from "./commands/daemon.js";
import { registerHistory } from "./commands/history.js";
import { registerKey } from "./commands/key.js";
import { registerLedger } from "./commands/ledger.js";
import { registerMaintenance } from "./commands/maintenance.js";
import { registerNotify } from "./commands/notify.js";
import { registerOperations } from "./commands/operations.js";
import { registerVendor } from "./commands/vendor.js";
import { registerViews } from "./commands/views.js";
import { registerVirtual } from "./commands/virtual.js";
import { ApiError } from "./errors.js";
import { type CliIo, EXIT } from "./io.js";
import { safeOutput } from "./safe-text.js";

export type { CliDeps } from "./command-kit.js";

/** Builds the `keybridge` command tree; `state.exitCode` carries results such as 3 (unsafe). */
export function buildProgram(io: CliIo, deps: CliDeps, state: { exitCode: number }): Command {
  // Every byte the CLI prints goes through safeOutput: nothing from data acts on the terminal.
  const out = (text: string) => io.stdout.write(safeOutput(text));
  const err = (text: string) => io.stderr.write(safeOutput(text));
  const program = new Command("keybridge");
  program
    .description("USB HID license-key bridge: keeps borrowed licenses returnable")
    .option("--data-dir <dir>", "the daemon's data directory (token, daemon.json, ledger)")
    .option("--url <url>", "the daemon's URL (default: from <dataDir>/daemon.json)")
    .option("--json", "print JSON (the API's shapes) instead of tables")
    .option("--config <file>", "configuration file (default <dataDir>/keybridge.json)")
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err })
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 error, 2 usage, 3 preflight says unsafe.\n" +
        example("keybridge serve --virtual", "keybridge status", "keybridge borrow 1001 --client ws-07 --json"),
    );

  const globals = (command: Command) => command.optsWithGlobals() as GlobalOptions;
  const kit: CommandKit = {
    io,
    deps,
    state,
    out,
    globals,
    client: (command) => new ApiClient(resolveEndpoint(globals(command), io.env)),
    show: (command, value, text) => {
      out(globals(command).json ? `${JSON.stringify(value, null, 2)}\n` : text(value));
    },
  };
  // The order here is the order of `keybridge --help`.
  registerServe(program, kit);
  registerViews(program, kit);
  registerOperations(program, kit);
  registerLedger(program, kit);
  registerHistory(program, kit);
  registerNotify(program, kit);
  registerMaintenance(program, kit);
  registerLocalCommands(program, kit);
  registerCodeMeter(program, kit);
  registerVirtual(program, kit);
  registerVendor(program, kit);
  registerKey(program, kit);
  return program;
}

/**
 * Errors that mean the command line was wrong: exit 2, as commander's own usage errors. VALIDATION is
 * the daemon refusing a value the user gave (a borrow period it does not allow, a time in the past).
 */
const USAGE_CODES = new Set(["UNKNOWN_PREFLIGHT_ACTION", "DURATION_INVALID", "VALIDATION", "CAPTURE_OUT_REFUSED"]);

/** Runs one `keybridge` invocation; resolves with its exit code. Nothing here calls process.exit. */
export async function run(argv: readonly string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  const state = { exitCode: EXIT.ok as number };
  const program = buildProgram(io, deps, state);
  const wantsJson = argv.includes("--json");
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync([...argv], { from: "user" });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return EXIT.ok;
      return EXIT.usage;
    }
    const code = isCodedError(error) ? error.code : "INTERNAL";
    const message = (error as Error).message;
    if (wantsJson) {
      const body: Record<string, unknown> = { code, message };
      if (error instanceof ApiError) body.status = error.status;
      io.stderr.write(safeOutput(`${JSON.stringify({ error: body })}\n`));
    } else {
      io.stderr.write(safeOutput(`error: ${message} [${code}]\n`));
    }
    if (USAGE_CODES.has(code)) return EXIT.usage;
    if (error instanceof ConfigInvalidError && String(error.details?.source ?? "").startsWith("flag"))
      return EXIT.usage;
    return EXIT.error;
  }
}

import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type {
  AuditEntryView,
  BorrowView,
  EventHistoryView,
  KeyView,
  LedgerExportView,
  LicenseInput,
  LicenseUpdateView,
  MigrationView,
  PreflightView,
  ReconcileView,
  RepairResultView,
  ReturnResultView,
  StatusView,
  VirtualKeyView,
} from "../bridge/api.js";
import { parseDuration } from "../config/duration.js";
import { ConfigInvalidError } from "../config/errors.js";
import type { ConfigField } from "../config/schema.js";
import { isCodedError, KeybridgeError } from "../errors.js";
import { PREFLIGHT_ACTIONS } from "../reconcile/actions.js";
import { ApiClient, resolveEndpoint } from "./client.js";
import { ApiError, CliFileError } from "./errors.js";
import { type CliIo, EXIT } from "./io.js";
import * as render from "./render.js";

interface GlobalOptions {
  dataDir?: string;
  url?: string;
  json?: boolean;
  config?: string;
}

export interface CliDeps {
  /** Runs the daemon until a signal; resolves with the exit code. Loaded lazily so other commands stay light. */
  serve?: (config: Parameters<typeof import("../server/daemon.js").runDaemonUntilSignal>[0]) => Promise<number>;
}

const integer =
  (what: string, min = 0) =>
  (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`${what} must be an integer ≥ ${min}, got '${value}'`);
    return Number(value);
  };

const duration = (value: string) => {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

const preflightAction = (value: string) => {
  if (!(PREFLIGHT_ACTIONS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`unknown action '${value}'; one of: ${PREFLIGHT_ACTIONS.join(", ")}`);
  }
  return value;
};

/** `7d` means "since seven days ago"; anything else must be an ISO time. */
function sinceTime(value: string): string {
  if (/^\d+(\.\d+)?\s*[a-z]+$/i.test(value.trim())) return new Date(Date.now() - duration(value)).toISOString();
  if (Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(`--since must be a duration such as 7d or an ISO time, got '${value}'`);
  }
  return value;
}

function example(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((line) => `  $ ${line}`).join("\n")}\n`;
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new CliFileError("FILE_UNREADABLE", `cannot read ${file}: ${(error as Error).message}`, file, error);
  }
}

/**
 * Writes a file only its owner can read, also when FILE already exists with a wider mode (a
 * plain write would keep that mode): a fresh 0600 file beside it is renamed over it.
 */
function writePrivateFile(file: string, text: string): void {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o600, flag: "wx" });
    renameSync(temporary, file);
  } catch (error) {
    let leftover = "";
    try {
      rmSync(temporary, { force: true });
    } catch (cleanupError) {
      // The write error is the one to report; the leftover is named in its message.
      leftover = `; ${temporary} is left behind (${(cleanupError as Error).message})`;
    }
    const message = `cannot write ${file}: ${(error as Error).message}${leftover}`;
    throw new CliFileError("FILE_UNWRITABLE", message, file, error);
  }
}

/** The configuration loader pulls in TypeBox: loaded by the commands that need it, so the others start faster. */
async function loadConfig(...args: Parameters<typeof import("../config/load.js").loadConfig>) {
  return (await import("../config/load.js")).loadConfig(...args);
}

async function readLicenseFile(file: string): Promise<LicenseInput[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readText(file));
  } catch (error) {
    if (error instanceof KeybridgeError) throw error;
    throw new CliFileError("FILE_INVALID", `${file} is not valid JSON: ${(error as Error).message}`, file, error);
  }
  const [{ Value }, { LicenseUpdateSchema }] = await Promise.all([
    import("@sinclair/typebox/value"),
    import("../server/schemas.js"),
  ]);
  if (!Value.Check(LicenseUpdateSchema, parsed)) {
    const first = [...Value.Errors(LicenseUpdateSchema, parsed)][0];
    const where =
      first?.path === undefined || first.path === "" ? "the file" : first.path.slice(1).replaceAll("/", ".");
    throw new CliFileError(
      "FILE_INVALID",
      `${file}: ${where}: ${first?.message ?? "invalid"} — expected {"licenses": [{"product", "seats", "borrowable", "borrowDays"}]}`,
      file,
    );
  }
  return (parsed as { licenses: LicenseInput[] }).licenses;
}

/** Builds the `keybridge` command tree; `state.exitCode` carries results such as 3 (unsafe). */
export function buildProgram(io: CliIo, deps: CliDeps, state: { exitCode: number }): Command {
  const out = (text: string) => io.stdout.write(text);
  const program = new Command("keybridge");
  program
    .description("USB HID license-key bridge: keeps borrowed licenses returnable")
    .option("--data-dir <dir>", "the daemon's data directory (token, daemon.json, ledger)")
    .option("--url <url>", "the daemon's URL (default: from <dataDir>/daemon.json)")
    .option("--json", "print JSON (the API's shapes) instead of tables")
    .option("--config <file>", "configuration file (default <dataDir>/keybridge.json)")
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (text) => io.stderr.write(text) })
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 error, 2 usage, 3 preflight says unsafe.\n" +
        example("keybridge serve --virtual", "keybridge status", "keybridge borrow 1001 --client ws-07 --json"),
    );

  const globals = (command: Command) => command.optsWithGlobals() as GlobalOptions;
  const client = (command: Command) => new ApiClient(resolveEndpoint(globals(command), io.env));
  /** Prints JSON with --json, else the human text. */
  const show = <T>(command: Command, value: T, text: (value: T) => string) => {
    out(globals(command).json ? `${JSON.stringify(value, null, 2)}\n` : text(value));
  };

  program
    .command("serve")
    .description("run the daemon (HTTP API, dashboard, metrics)")
    .option("--virtual", "run on virtual keys with demo licenses")
    .option("--listen <host:port>", "listen address (default 127.0.0.1:22380)")
    .option("--log-level <level>", "error, warn, info, debug, traffic")
    .option("--allow-remote", "allow a non-loopback listen address")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain); needs --tls-key")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .addHelpText(
      "after",
      example(
        "keybridge serve --virtual --listen 127.0.0.1:22380",
        "keybridge serve --listen 0.0.0.0:22380 --allow-remote --tls-cert /etc/keybridge/tls.crt --tls-key /etc/keybridge/tls.key",
      ),
    )
    .action(
      async (
        options: {
          virtual?: boolean;
          listen?: string;
          logLevel?: string;
          allowRemote?: boolean;
          tlsCert?: string;
          tlsKey?: string;
        },
        command: Command,
      ) => {
        const g = globals(command);
        const flags: Partial<Record<ConfigField, unknown>> = {
          dataDir: g.dataDir,
          listen: options.listen,
          logLevel: options.logLevel,
          mode: options.virtual ? "virtual" : undefined,
          allowRemote: options.allowRemote ? true : undefined,
          tlsCert: options.tlsCert,
          tlsKey: options.tlsKey,
        };
        const loaded = await loadConfig({ flags, env: io.env, ...(g.config ? { configFile: g.config } : {}) });
        if (deps.serve !== undefined) {
          state.exitCode = await deps.serve({ config: loaded.config, warnings: loaded.warnings });
          return;
        }
        // Started first: on a second core the ledger's quick_check runs while the daemon's modules load.
        const { startLedgerCheck } = await import("../server/daemon-boot.js");
        const ledgerCheck = startLedgerCheck(loaded.config.dataDir);
        const { runDaemonUntilSignal } = await import("../server/daemon.js");
        state.exitCode = await runDaemonUntilSignal({ config: loaded.config, warnings: loaded.warnings, ledgerCheck });
      },
    );

  program
    .command("status")
    .description("keys present, borrows, dummies, open risks — the one-screen summary")
    .addHelpText("after", example("keybridge status", "keybridge status --json"))
    .action(async (_options: unknown, command: Command) => {
      show(command, await client(command).json<StatusView>("GET", "/v1/status"), render.statusText);
    });

  program
    .command("keys")
    .description("keys with their licenses (seats, borrowable, borrowed, dummies)")
    .addHelpText("after", example("keybridge keys"))
    .action(async (_options: unknown, command: Command) => {
      show(command, await client(command).json<KeyView[]>("GET", "/v1/keys"), render.keysText);
    });

  program
    .command("borrows")
    .description("borrow records, dummies included")
    .option("--serial <serial>", "only borrows of this key")
    .addOption(new Option("--state <state>", "only borrows in this state").choices(["active", "expired", "dummy"]))
    .addHelpText("after", example("keybridge borrows", "keybridge borrows --state dummy --json"))
    .action(async (options: { serial?: string; state?: string }, command: Command) => {
      const query = new URLSearchParams();
      if (options.serial) query.set("serial", options.serial);
      if (options.state) query.set("state", options.state);
      const suffix = query.size > 0 ? `?${query}` : "";
      show(command, await client(command).json<BorrowView[]>("GET", `/v1/borrows${suffix}`), render.borrowsText);
    });

  program
    .command("borrow")
    .description("borrow a license; prints the borrow")
    .argument("<product>", "product code", integer("PRODUCT"))
    .requiredOption("--client <id>", "the client computer or user (at most 64 bytes)")
    .option("--days <n>", "borrow period in days (default: the license's)", integer("--days", 1))
    .option("--serial <serial>", "borrow from this key (default: the first holding the product)")
    .addHelpText("after", example("keybridge borrow 1001 --client ws-07 --days 14"))
    .action(async (product: number, options: { client: string; days?: number; serial?: string }, command: Command) => {
      const body = { product, client: options.client, days: options.days, serial: options.serial };
      show(command, await client(command).json<BorrowView>("POST", "/v1/borrows", body), render.borrowText);
    });

  program
    .command("return")
    .description("return a borrow early")
    .argument("<id>", "borrow id", integer("ID"))
    .option("--serial <serial>", "the key holding the borrow, when two keys use the same id")
    .addHelpText("after", example("keybridge return 42"))
    .action(async (id: number, options: { serial?: string }, command: Command) => {
      const query = options.serial === undefined ? "" : `?serial=${encodeURIComponent(options.serial)}`;
      const result = await client(command).json<ReturnResultView>("DELETE", `/v1/borrows/${id}${query}`);
      show(
        command,
        result,
        (r) => `Returned borrow ${r.borrow.id} (product ${r.borrow.product}, client ${r.borrow.client}).\n`,
      );
    });

  program
    .command("reconcile")
    .description("findings across key, registry and ledger; dry run unless --repair")
    .option("--repair", "apply the safe repairs")
    .addHelpText("after", example("keybridge reconcile", "keybridge reconcile --repair"))
    .action(async (options: { repair?: boolean }, command: Command) => {
      const api = client(command);
      if (options.repair) {
        const result = await api.json<RepairResultView>("POST", "/v1/reconcile/repair");
        show(command, { ...result.after, applied: result.applied }, () => render.repairText(result));
      } else {
        show(command, await api.json<ReconcileView>("GET", "/v1/reconcile"), (v) => render.findingsText(v.findings));
      }
    });

  program
    .command("preflight")
    .description(`is ACTION safe now? exit 3 when not. Actions: ${PREFLIGHT_ACTIONS.join(", ")}`)
    .argument("<action>", "the action", preflightAction)
    .addHelpText("after", example("keybridge preflight unplug-key", "keybridge preflight change-ip --json"))
    .action(async (action: string, _options: unknown, command: Command) => {
      const view = await client(command).json<PreflightView>("GET", `/v1/preflight/${encodeURIComponent(action)}`);
      show(command, view, render.preflightText);
      if (!view.safe) state.exitCode = EXIT.unsafe;
    });

  program
    .command("migrate")
    .description("rebind outstanding borrows to the current host identity")
    .addHelpText("after", example("keybridge migrate"))
    .action(async (_options: unknown, command: Command) => {
      show(command, await client(command).json<MigrationView>("POST", "/v1/migrate"), render.migrationText);
    });

  program
    .command("license-update")
    .description('replace a key\'s license set from FILE {"licenses": [{product, seats, borrowable, borrowDays}]}')
    .argument("<serial>", "the key's serial")
    .argument("<file>", "JSON file with the new license set")
    .option("--force", "update even with borrows out (they become Borrow Dummies)")
    .addHelpText("after", example("keybridge license-update KB-0001 licenses.json"))
    .action(async (serial: string, file: string, options: { force?: boolean }, command: Command) => {
      const licenses = await readLicenseFile(file);
      const path = `/v1/keys/${encodeURIComponent(serial)}/license-update`;
      const body = { licenses, force: options.force === true };
      show(command, await client(command).json<LicenseUpdateView>("POST", path, body), render.licenseUpdateText);
    });

  const ledger = program.command("ledger").description("move what another host needs to take over");
  ledger
    .command("export")
    .description("write the checksummed ledger export to FILE (0600)")
    .argument("<file>", "where to write it")
    .addHelpText("after", example("keybridge ledger export /media/usb/keybridge.export"))
    .action(async (file: string, _options: unknown, command: Command) => {
      const { text, headers } = await client(command).text("GET", "/v1/ledger/export");
      writePrivateFile(file, text);
      const view: LedgerExportView = {
        file,
        borrows: Number(headers.get("x-keybridge-borrows") ?? 0),
        keys: Number(headers.get("x-keybridge-keys") ?? 0),
      };
      show(command, view, (v) => render.ledgerText("Exported", v, file));
    });
  ledger
    .command("import")
    .description("import a ledger export; --force merges into a ledger that holds borrows")
    .argument("<file>", "the export file")
    .option("--force", "merge even if this ledger already holds borrows")
    .addHelpText("after", example("keybridge ledger import /media/usb/keybridge.export"))
    .action(async (file: string, options: { force?: boolean }, command: Command) => {
      const text = readText(file);
      const { text: answer } = await client(command).text(
        "POST",
        `/v1/ledger/import${options.force ? "?force=true" : ""}`,
        text,
      );
      const view = JSON.parse(answer) as LedgerExportView;
      show(command, view, (v) => render.ledgerText("Imported", v, file));
    });

  program
    .command("audit")
    .summary("the durable audit trail: refusals, forced updates, repairs, rollbacks")
    .description(
      "the ledger's audit trail, newest first: refused counterfeit keys, forced license updates, rollbacks, " +
        "repairs, rebinds, migrations; kept across restarts",
    )
    .option("--kind <kind>", "only entries of this kind (e.g. counterfeit-key, license-update-forced, repair)")
    .option("--serial <serial>", "only entries about this key")
    .option(
      "--since <when>",
      "only entries this recent (a duration such as 7d or 12h) or from this ISO time on",
      sinceTime,
    )
    .option("--before <id>", "only entries older than this entry id (the next page)", integer("--before", 1))
    .option("--limit <n>", "at most n entries (1–1000)", integer("--limit", 1), 50)
    .addHelpText("after", example("keybridge audit --since 7d", "keybridge audit --kind counterfeit-key --json"))
    .action(
      async (
        options: { kind?: string; serial?: string; since?: string; before?: number; limit: number },
        command: Command,
      ) => {
        const query = new URLSearchParams({ limit: String(options.limit) });
        if (options.kind) query.set("kind", options.kind);
        if (options.serial) query.set("serial", options.serial);
        if (options.since) query.set("since", options.since);
        if (options.before !== undefined) query.set("before", String(options.before));
        show(command, await client(command).json<AuditEntryView[]>("GET", `/v1/audit?${query}`), render.auditText);
      },
    );

  program
    .command("events")
    .summary("what happened since the daemon started; --follow streams new events")
    .description(
      "what happened since the daemon started (the last 1 000 events are kept); with --follow, " +
        "the open risks and then every new event until interrupted",
    )
    .option("--follow", "keep following until interrupted")
    .option("--limit <n>", "without --follow: at most the newest n events (1–1000)", integer("--limit", 1), 100)
    .option("--after <seq>", "without --follow: only events after this sequence number", integer("--after"), 0)
    .addHelpText(
      "after",
      example("keybridge events --limit 20", "keybridge events --follow --json") +
        "\nWith --json, one event object a line; its `seq` numbers the events of this daemon run.\n",
    )
    .action(async (options: { follow?: boolean; limit: number; after: number }, command: Command) => {
      const json = globals(command).json === true;
      const print = (type: string, data: string) => out(json ? `${data}\n` : render.eventLine(type, data));
      const api = client(command);
      if (!options.follow) {
        const limit = Math.min(options.limit, 1000);
        const history = await api.json<EventHistoryView>(
          "GET",
          `/v1/events/history?after=${options.after}&limit=${limit}`,
        );
        for (const event of history.events) print(event.type, JSON.stringify(event));
        if (history.truncated && !json) {
          io.stderr.write(`(older events are not shown: raise --limit, or they are no longer kept)\n`);
        }
        return;
      }
      await api.follow(print, io.interrupted ?? new Promise(() => {}));
    });

  program
    .command("config")
    .description("the effective configuration and where each value comes from")
    .addHelpText("after", example("keybridge config", "KEYBRIDGE_LISTEN=127.0.0.1:9000 keybridge config --json"))
    .action(async (_options: unknown, command: Command) => {
      const g = globals(command);
      const loaded = await loadConfig({
        flags: { dataDir: g.dataDir },
        env: io.env,
        ...(g.config ? { configFile: g.config } : {}),
      });
      show(
        command,
        { config: loaded.config, sources: loaded.sources, file: loaded.file ?? null, warnings: loaded.warnings },
        () => render.configText(loaded),
      );
    });

  program
    .command("doctor")
    .description("check this machine: Node.js, native modules, udev rules, device access, data directory, daemon")
    .addHelpText(
      "after",
      example("keybridge doctor", "sudo keybridge doctor --json") +
        "\nExit code 0 when no check fails (warnings allowed), 1 when one does.\n",
    )
    .action(async (_options: unknown, command: Command) => {
      // Loaded on demand: the checks load the native modules, which the other commands must not need.
      const { doctorText, runDoctor } = await import("./doctor/index.js");
      const g = globals(command);
      const report = await runDoctor({ dataDir: g.dataDir, url: g.url, config: g.config, env: io.env });
      show(command, report, doctorText);
      if (!report.ok) state.exitCode = EXIT.error;
    });

  const virtual = program.command("virtual").description("control virtual keys (daemon in virtual mode only)");
  virtual
    .command("keys")
    .description("list virtual keys")
    .addHelpText("after", example("keybridge virtual keys"))
    .action(async (_options: unknown, command: Command) => {
      show(command, await client(command).json<VirtualKeyView[]>("GET", "/v1/virtual/keys"), render.virtualKeysText);
    });
  virtual
    .command("create")
    .description("create a virtual key with the demo licenses")
    .option("--serial <serial>", "its serial (default: the next free one)")
    .addHelpText("after", example("keybridge virtual create --serial KB-0002"))
    .action(async (options: { serial?: string }, command: Command) => {
      const key = await client(command).json<VirtualKeyView>(
        "POST",
        "/v1/virtual/keys",
        options.serial ? { serial: options.serial } : {},
      );
      show(command, key, (k) => `Created virtual key ${k.serial}.\n`);
    });
  for (const verb of ["plug", "unplug"] as const) {
    virtual
      .command(verb)
      .description(`${verb} a virtual key`)
      .argument("<serial>", "the key's serial")
      .addHelpText("after", example(`keybridge virtual ${verb} KB-0001`))
      .action(async (serial: string, _options: unknown, command: Command) => {
        const key = await client(command).json<VirtualKeyView>(
          "POST",
          `/v1/virtual/keys/${encodeURIComponent(serial)}/${verb}`,
        );
        show(command, key, (k) => `Virtual key ${k.serial} ${k.plugged ? "plugged in" : "unplugged"}.\n`);
      });
  }
  virtual
    .command("clock")
    .description("move every virtual key's clock forward")
    .requiredOption("--advance <duration>", "how far: 31d, 2h, 15m, 90s", duration)
    .addHelpText("after", example("keybridge virtual clock --advance 31d"))
    .action(async (options: { advance: number }, command: Command) => {
      const result = await client(command).json<{ keyTime: string }>("POST", "/v1/virtual/clock", {
        advance: options.advance,
      });
      show(command, result, (r) => `Virtual key time is now ${r.keyTime}.\n`);
    });
  virtual
    .command("host")
    .description("change the simulated host identity")
    .option("--ip <address>", "the primary IP address")
    .option("--hostname <name>", "the hostname")
    .option("--machine-id <id>", "the machine id")
    .addHelpText("after", example("keybridge virtual host --ip 192.0.2.20"))
    .action(async (options: { ip?: string; hostname?: string; machineId?: string }, command: Command) => {
      const result = await client(command).json<{ ips: string[]; hostname: string; machineId: string }>(
        "POST",
        "/v1/virtual/host",
        {
          ...(options.ip ? { ip: options.ip } : {}),
          ...(options.hostname ? { hostname: options.hostname } : {}),
          ...(options.machineId ? { machineId: options.machineId } : {}),
        },
      );
      show(
        command,
        result,
        (h) => `Host identity: ips ${h.ips.join(", ")}, hostname ${h.hostname}, machine id ${h.machineId}.\n`,
      );
    });
  virtual
    .command("wipe-registry")
    .description("wipe the OS registry copy, as a driver uninstall would")
    .addHelpText("after", example("keybridge virtual wipe-registry"))
    .action(async (_options: unknown, command: Command) => {
      show(
        command,
        await client(command).json<{ wiped: boolean }>("POST", "/v1/virtual/registry/wipe"),
        () => "Registry wiped.\n",
      );
    });

  return program;
}

const USAGE_CODES = new Set(["UNKNOWN_PREFLIGHT_ACTION", "DURATION_INVALID"]);

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
      io.stderr.write(`${JSON.stringify({ error: body })}\n`);
    } else {
      io.stderr.write(`error: ${message} [${code}]\n`);
    }
    if (USAGE_CODES.has(code)) return EXIT.usage;
    if (error instanceof ConfigInvalidError && String(error.details?.source ?? "").startsWith("flag"))
      return EXIT.usage;
    return EXIT.error;
  }
}

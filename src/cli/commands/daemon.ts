import type { Command } from "commander";
import type { ConfigKey } from "../../config/schema.js";
import { shownConfig } from "../../config/webhooks.js";
import { resolveEndpoint } from "../client.js";
import { type CommandKit, example, loadConfig } from "../command-kit.js";
import { EXIT } from "../io.js";
import * as render from "../render.js";
import { findRunningDaemon } from "../running-daemon.js";

/** `serve`: the daemon itself, loaded only when asked for. */
export function registerServe(program: Command, kit: CommandKit): void {
  const { io, deps, state, globals } = kit;
  program
    .command("serve")
    .description("run the daemon (HTTP API, dashboard, metrics)")
    .option("--virtual", "run on virtual keys with demo licenses")
    .option("--listen <host:port>", "listen address (default 127.0.0.1:22380)")
    .option("--log-level <level>", "error, warn, info, debug, traffic")
    .option("--allow-remote", "allow a non-loopback listen address")
    .option(
      "--allowed-hosts <names>",
      "host names requests may be addressed to besides localhost, 127.0.0.1, [::1] (comma-separated)",
    )
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain); needs --tls-key")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .option(
      "--codemeter <mode>",
      "the read-only CodeMeter mode: auto (when CodeMeter is found on this host), on or off (default auto)",
    )
    .option("--codemeter-server-ini <path>", "CodeMeter's Server.ini (default the platform's)")
    .option(
      "--codemeter-log-dir <dir>",
      "the License Tracking directory (default LogLicenseTrackingPath of Server.ini, else the platform's)",
    )
    .option("--codemeter-cmu <path>", "the cmu executable (default cmu on PATH)")
    .addHelpText(
      "after",
      "\nCodeMeter: keybridge also guards the borrows of a CodeMeter license server on this host, reading only\n" +
        "(Server.ini, cmu, the License Tracking log, the CmSticks on USB); see docs/codemeter.md.\n" +
        example(
          "keybridge serve --virtual --listen 127.0.0.1:22380",
          "keybridge serve --listen 0.0.0.0:22380 --allow-remote --tls-cert /etc/keybridge/tls.crt --tls-key /etc/keybridge/tls.key",
          "keybridge serve --codemeter on --codemeter-log-dir /srv/codemeter/tracking",
        ),
    )
    .action(
      async (
        options: {
          virtual?: boolean;
          listen?: string;
          logLevel?: string;
          allowRemote?: boolean;
          allowedHosts?: string;
          tlsCert?: string;
          tlsKey?: string;
          codemeter?: string;
          codemeterServerIni?: string;
          codemeterLogDir?: string;
          codemeterCmu?: string;
        },
        command: Command,
      ) => {
        const g = globals(command);
        const flags: Partial<Record<ConfigKey, unknown>> = {
          dataDir: g.dataDir,
          listen: options.listen,
          logLevel: options.logLevel,
          mode: options.virtual ? "virtual" : undefined,
          allowRemote: options.allowRemote ? true : undefined,
          allowedHosts: options.allowedHosts,
          tlsCert: options.tlsCert,
          tlsKey: options.tlsKey,
          "codemeter.mode": options.codemeter,
          "codemeter.serverIni": options.codemeterServerIni,
          "codemeter.logDir": options.codemeterLogDir,
          "codemeter.cmu": options.codemeterCmu,
        };
        const loaded = await loadConfig({ flags, env: io.env, ...(g.config ? { configFile: g.config } : {}) });
        if (deps.serve !== undefined) {
          state.exitCode = await deps.serve({ config: loaded.config, warnings: loaded.warnings });
          return;
        }
        // The data directory's lock first, before anything in it is read: a second daemon stops here.
        // Then, on a second core, the ledger's quick_check runs while the daemon's modules load.
        const { claimDataDir, startLedgerCheck } = await import("../../server/daemon-boot.js");
        const claimed = claimDataDir(loaded.config.dataDir, loaded.config.listen);
        const ledgerCheck = startLedgerCheck(loaded.config.dataDir);
        const { runDaemonUntilSignal } = await import("../../server/daemon.js");
        state.exitCode = await runDaemonUntilSignal({
          config: loaded.config,
          warnings: loaded.warnings,
          ledgerCheck,
          claimed,
        });
      },
    );
}

/** `config` and `doctor`: they work on this machine, without the daemon. */
export function registerLocalCommands(program: Command, kit: CommandKit): void {
  const { io, state, globals, show } = kit;
  program
    .command("config")
    .description(
      "the configuration `serve` would start with (defaults, file, environment) and where each value comes " +
        "from; and the running daemon's mode and address, which its own flags may have changed",
    )
    .addHelpText("after", example("keybridge config", "KEYBRIDGE_LISTEN=127.0.0.1:9000 keybridge config --json"))
    .action(async (_options: unknown, command: Command) => {
      const g = globals(command);
      const loaded = await loadConfig({
        flags: { dataDir: g.dataDir },
        env: io.env,
        ...(g.config ? { configFile: g.config } : {}),
      });
      const endpoint = resolveEndpoint({ dataDir: loaded.config.dataDir, ...(g.url ? { url: g.url } : {}) }, io.env);
      const daemon = await findRunningDaemon(endpoint, loaded.config.dataDir);
      const { codeMeterDefaultsText } = await import("../codemeter-local.js");
      const codeMeterDefaults = await codeMeterDefaultsText(process.platform, io.env);
      show(
        command,
        {
          config: shownConfig(loaded.config),
          sources: loaded.sources,
          file: loaded.file ?? null,
          warnings: loaded.warnings,
          daemon: typeof daemon === "string" ? null : daemon,
        },
        () => render.configText(loaded, daemon, codeMeterDefaults),
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
      const { doctorText, runDoctor } = await import("../doctor/index.js");
      const g = globals(command);
      const report = await runDoctor({ dataDir: g.dataDir, url: g.url, config: g.config, env: io.env });
      show(command, report, doctorText);
      if (!report.ok) state.exitCode = EXIT.error;
    });
}

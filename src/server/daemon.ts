import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import type { Bridge, BridgeOptions } from "../bridge/api.js";
import { type DataDirLock, openBridge } from "../bridge/index.js";
import { type KeybridgeConfig, parseListen } from "../config/index.js";
import { KeybridgeError } from "../errors.js";
import { type LogLevel, layerLogger, setLogFormat, setLogLevel } from "../log.js";
import { createServer, type KeybridgeServer } from "./app.js";
import { type ClaimedDataDir, claimDataDir } from "./daemon-boot.js";
import { type DaemonInfo, readOrCreateToken, removeDaemonInfo, writeDaemonInfo } from "./daemon-files.js";
import { BridgeUnavailableError } from "./errors.js";
import { Notifier, OUTBOX_FILE_NAME, resolveWebhooks } from "./notify/index.js";

const log = layerLogger("server");

/** Opens the bridge over a data directory the daemon has already locked (`lock` is handed on, not taken again). */
export type OpenBridge = (options: BridgeOptions, lock: DataDirLock) => Promise<Bridge>;

export interface DaemonOptions {
  config: KeybridgeConfig;
  /** Defaults to `openBridge` of src/bridge; tests pass their own. */
  openBridge?: OpenBridge;
  version?: string;
  /** Configuration warnings to log once the logger is set up. */
  warnings?: string[];
  /** The ledger's quick_check, started before the daemon's modules loaded (`startLedgerCheck`). */
  ledgerCheck?: Promise<boolean>;
  /**
   * The data directory, already claimed (`claimDataDir`: `serve` claims it before the ledger check
   * starts); claimed here otherwise. Either way the daemon releases its lock when it stops.
   */
  claimed?: ClaimedDataDir;
}

export interface RunningDaemon {
  readonly url: string;
  readonly tokenFile: string;
  readonly bridge: Bridge;
  readonly server: KeybridgeServer;
  readonly notifier: Notifier;
  /** Graceful stop: no new connections, in-flight requests finish, bridge closed, daemon.json removed. */
  stop(): Promise<void>;
}

/** The TLS certificate or key named in the configuration cannot be read, or they do not form a pair. */
export class TlsSetupError extends KeybridgeError {
  constructor(message: string, file: string | undefined, cause: unknown) {
    super("TLS_SETUP_FAILED", message, { cause, details: file === undefined ? {} : { file } });
  }
}

function readTls(config: KeybridgeConfig): { cert: string; key: string } | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      throw new TlsSetupError(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`, file, error);
    }
  };
  const tls = { cert: read(config.tlsCert, "certificate"), key: read(config.tlsKey, "private key") };
  try {
    // Checked here so a wrong pair is one clear message at start, not a failure deep in the server.
    createSecureContext(tls);
  } catch (error) {
    throw new TlsSetupError(
      `the TLS certificate ${config.tlsCert} and key ${config.tlsKey} are not usable together: ${(error as Error).message}`,
      undefined,
      error,
    );
  }
  return tls;
}

/** The listen address was taken or not allowed. */
export class ListenFailedError extends KeybridgeError {
  constructor(listen: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason =
      code === "EADDRINUSE"
        ? "the address is in use (is another keybridge daemon running?)"
        : code === "EACCES"
          ? "permission denied for this port"
          : (cause as Error).message;
    super("LISTEN_FAILED", `cannot listen on ${listen}: ${reason}`, { cause, details: { listen } });
  }
}

export function bridgeOptionsFrom(config: KeybridgeConfig): BridgeOptions {
  const registry: NonNullable<BridgeOptions["registry"]> = {};
  if (config.registryKind !== "auto") registry.kind = config.registryKind;
  if (config.registryPath !== undefined) registry.path = config.registryPath;
  return {
    dataDir: config.dataDir,
    mode: config.mode,
    registry,
    mirrorLagMs: config.mirrorLagMs,
    driftCheckMs: config.driftCheckMs,
    hostPollMs: config.hostPollMs,
    clockCheckMs: config.clockCheckMs,
    exchangeTimeoutMs: config.exchangeTimeoutMs,
    queueLimit: config.queueLimit,
    virtualLatencyMs: config.virtualLatencyMs,
    bindingComponents: config.bindingComponents,
    codemeter: config.codemeter,
  };
}

/** JSON on stdout when it is not a terminal (journald), readable lines on a terminal; `json` forces JSON. */
export function applyLogSettings(level: LogLevel, format: KeybridgeConfig["logFormat"]): void {
  setLogLevel(level);
  if (format !== "auto") setLogFormat(format);
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const { config } = options;
  const version = options.version ?? "0.1.0";
  applyLogSettings(config.logLevel as LogLevel, config.logFormat);
  for (const warning of options.warnings ?? []) log.warn(warning);

  // Before anything in the directory is read: a second daemon is refused here, having touched nothing.
  const dir = options.claimed ?? claimDataDir(config.dataDir, config.listen);
  const { lock } = dir;
  let files: StartFiles;
  let bridge: Bridge;
  try {
    files = readStartFiles(config, dir);
    const { ledgerCheck } = options;
    const open =
      options.openBridge ??
      ((bridgeOptions, dataDirLock) =>
        openBridge(bridgeOptions, { ledgerCheck, driftCheckInBackground: true, dataDirLock }));
    bridge = await openReadyBridge(() => open(bridgeOptionsFrom(config), lock));
  } catch (error) {
    lock.release();
    throw error;
  }
  const { token, tokenFile, tls, webhooks } = files;

  const notifier = new Notifier(bridge, webhooks, { version, outboxFile: join(config.dataDir, OUTBOX_FILE_NAME) });
  notifier.start();
  let server: KeybridgeServer | undefined;
  let url: string;
  try {
    server = await createServer({
      bridge,
      token,
      version,
      notifier,
      allowedHosts: config.allowedHosts,
      ...(tls === undefined ? {} : { tls }),
    });
    const { host, port } = parseListen(config.listen);
    url = await server.listen(host, port).catch((error: unknown) => {
      throw new ListenFailedError(config.listen, error);
    });
    writeDaemonInfoUnlessDiskFull(config.dataDir, {
      pid: process.pid,
      url,
      started: new Date().toISOString(),
      mode: bridge.mode,
      version,
      ...(config.tlsCert === undefined ? {} : { tlsCert: config.tlsCert }),
    });
  } catch (error) {
    // Whatever started must stop again, or the process would keep its port, USB watch and timers.
    await closeAfterFailedStart(error, server, bridge);
    await notifier.close(0);
    lock.release();
    throw error;
  }
  log.info("keybridge daemon listening", { url, mode: bridge.mode, dataDir: config.dataDir, tokenFile });
  if (notifier.size > 0) {
    log.info("notifying webhooks", { webhooks: notifier.webhooks().map((hook) => `${hook.name} (${hook.url})`) });
  }
  const keys = await bridge.keys();
  if (!keys.some((key) => key.present && key.kind === "keybridge")) {
    log.warn("no keybridge key is attached; the daemon stays up and serves as soon as one is plugged in");
  }

  const running = server;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info("shutting down: finishing requests in flight");
      try {
        await running.close();
      } finally {
        try {
          await bridge.close();
        } finally {
          // After the bridge: what it published while closing is still sent, within the drain time.
          await notifier.close();
          removeDaemonInfo(config.dataDir, process.pid);
          lock.release();
          log.info("keybridge daemon stopped");
        }
      }
    })();
    return stopping;
  };
  return { url, tokenFile, bridge, server: running, notifier, stop };
}

/**
 * daemon.json only tells the CLI where the daemon listens: on a full disk the daemon runs without it
 * (read-only service, see docs/reliability.md) rather than fail every start under systemd. Any
 * other failure to write it still stops the start: that is a data directory to fix.
 */
function writeDaemonInfoUnlessDiskFull(dataDir: string, info: DaemonInfo): void {
  try {
    writeDaemonInfo(dataDir, info);
  } catch (error) {
    const errno = (error as { cause?: NodeJS.ErrnoException }).cause?.code;
    if (errno !== "ENOSPC" && errno !== "EDQUOT") throw error;
    log.error("the disk is full: daemon.json could not be written; the daemon runs all the same", {
      error: (error as Error).message,
      url: info.url,
      hint: `the CLI finds this daemon with --url ${info.url}`,
    });
  }
}

interface StartFiles {
  token: string;
  tokenFile: string;
  tls: ReturnType<typeof readTls>;
  webhooks: ReturnType<typeof resolveWebhooks>;
}

/** The token (made at the first start), the TLS pair and the webhooks' secrets: read before the bridge opens. */
function readStartFiles(config: KeybridgeConfig, dir: ClaimedDataDir): StartFiles {
  if (!dir.created && (dir.mode & 0o077) !== 0) {
    log.warn("the data directory is readable by others; it holds the API token", {
      dataDir: config.dataDir,
      mode: dir.mode.toString(8),
    });
  }
  const { token, file: tokenFile, created } = readOrCreateToken(config.dataDir);
  const tls = readTls(config);
  // Before the bridge opens: a webhook that cannot work is a configuration error, said at once.
  const webhooks = resolveWebhooks(config.webhooks);
  if (created) log.info("API token created", { tokenFile });
  return { token, tokenFile, tls, webhooks };
}

/** Opens the bridge and waits until it is ready; a bridge that fails to get ready is closed again. */
async function openReadyBridge(open: () => Promise<Bridge>): Promise<Bridge> {
  const asUnavailable = (error: unknown) =>
    error instanceof KeybridgeError
      ? error
      : new BridgeUnavailableError(`the bridge could not start: ${(error as Error).message}`, error);
  let bridge: Bridge;
  try {
    bridge = await open();
  } catch (error) {
    throw asUnavailable(error);
  }
  try {
    await bridge.ready();
  } catch (error) {
    await closeAfterFailedStart(error, undefined, bridge);
    throw asUnavailable(error);
  }
  return bridge;
}

/** Closes what a failed start opened; the start's own error is the one reported, so close failures are logged. */
async function closeAfterFailedStart(
  startError: unknown,
  server: KeybridgeServer | undefined,
  bridge: Bridge,
): Promise<void> {
  const reason = (startError as Error).message;
  if (server !== undefined) {
    await server.close().catch((error: unknown) => {
      log.error("closing the HTTP server after a failed start failed", { reason, error: (error as Error).message });
    });
  }
  await bridge.close().catch((error: unknown) => {
    log.error("closing the bridge after a failed start failed", { reason, error: (error as Error).message });
  });
}

/**
 * Runs until SIGTERM or SIGINT: the first stops gracefully, a second exits at once.
 * Resolves with the exit code once stopped.
 */
export async function runDaemonUntilSignal(options: DaemonOptions): Promise<number> {
  const stopLogging = logUnhandledRejections();
  const daemon = await startDaemon(options).catch((error: unknown) => {
    stopLogging();
    throw error;
  });
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn("second signal: exiting without waiting", { signal });
        removeDaemonInfo(options.config.dataDir, process.pid);
        process.exit(1);
      }
      log.info("signal received", { signal });
      daemon.stop().then(
        async () => {
          process.off("SIGTERM", onSignal);
          process.off("SIGINT", onSignal);
          stopLogging();
          await flushLogs();
          resolve(0);
        },
        async (error: unknown) => {
          log.error("shutdown failed", { error: (error as Error).message });
          await flushLogs();
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

/** The log message of a promise rejection nobody handled; tests that spawn the daemon fail on it. */
export const UNHANDLED_REJECTION_MESSAGE = "unhandled promise rejection";

/**
 * Every promise keybridge makes is awaited or handled; one that is not is a bug. Node would end the
 * process on it, and under systemd a fault that repeats (a full disk) then becomes a crash loop
 * with the API down. The daemon logs it at error level, with its stack, and keeps serving: the
 * operation it belonged to has already answered its caller. Returns the function that removes the handler.
 */
export function logUnhandledRejections(): () => void {
  const onRejection = (reason: unknown) => {
    log.error(UNHANDLED_REJECTION_MESSAGE, {
      code: (reason as { code?: unknown } | null)?.code,
      error: reason instanceof Error ? reason.message : String(reason),
      stack: reason instanceof Error ? reason.stack : undefined,
    });
  };
  process.on("unhandledRejection", onRejection);
  return () => process.off("unhandledRejection", onRejection);
}

async function flushLogs(): Promise<void> {
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
}

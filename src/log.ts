import winston from "winston";

/**
 * One winston logger for the process; each layer takes a child with its own `layer` label.
 * `traffic` sits below `debug` and carries hex dumps of HID reports, so it is off unless asked for.
 */
export const LOG_LEVELS = { error: 0, warn: 1, info: 2, http: 3, verbose: 4, debug: 5, traffic: 6 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

export type Layer =
  | "protocol"
  | "transport"
  | "key"
  | "registry"
  | "ledger"
  | "host"
  | "reconcile"
  | "codemeter"
  | "bridge"
  | "server"
  | "cli"
  | "virtual";

export interface LayerLogger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  traffic(message: string, meta?: Record<string, unknown>): void;
  isTrafficEnabled(): boolean;
}

/** Field names whose values never reach a log line (API token, borrow tags, server secret). */
const SECRET_FIELDS = new Set(["token", "tag", "secret", "authorization", "serverSecret"]);

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_FIELDS.has(key)) (info as Record<string, unknown>)[key] = "[redacted]";
  }
  return info;
});

export type LogFormat = "json" | "text";

const readableLine = winston.format.printf(({ timestamp, level, message, layer, ...rest }) => {
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
  return `${String(timestamp)} ${level.padEnd(5)} [${String(layer ?? "-")}] ${String(message)}${extra}`;
});

function formatOf(kind: LogFormat): winston.Logform.Format {
  return kind === "json"
    ? winston.format.combine(redact(), winston.format.timestamp(), winston.format.json())
    : winston.format.combine(redact(), winston.format.timestamp({ format: "HH:mm:ss.SSS" }), readableLine);
}

/** JSON when stdout is not a terminal (journald, pipes), readable lines on a terminal. */
function defaultFormat(): winston.Logform.Format {
  return formatOf(process.env.KEYBRIDGE_LOG_FORMAT === "json" || !process.stdout.isTTY ? "json" : "text");
}

function initialLevel(): LogLevel {
  const fromEnv = process.env.KEYBRIDGE_LOG_LEVEL;
  if (fromEnv && fromEnv in LOG_LEVELS) return fromEnv as LogLevel;
  // Tests and library users get quiet logs unless they ask.
  return process.env.VITEST ? "error" : "info";
}

export const rootLogger = winston.createLogger({
  levels: LOG_LEVELS,
  level: initialLevel(),
  format: defaultFormat(),
  transports: [new winston.transports.Console({ stderrLevels: [] })],
});

export function setLogLevel(level: LogLevel): void {
  rootLogger.level = level;
}

/** Forces one line shape, whatever stdout is (the daemon's `logFormat` setting). */
export function setLogFormat(kind: LogFormat): void {
  rootLogger.format = formatOf(kind);
}

/** Send logs to stderr instead of stdout (the CLI keeps stdout for its own output). */
export function logToStderr(): void {
  rootLogger.clear();
  rootLogger.add(new winston.transports.Console({ stderrLevels: Object.keys(LOG_LEVELS) }));
}

export function layerLogger(layer: Layer): LayerLogger {
  const child = rootLogger.child({ layer });
  // winston runs its format pipeline before the transports filter by level, so a disabled
  // debug line would still cost a timestamp and a JSON serialisation: check the level first.
  const at = (level: LogLevel) => (message: string, meta?: Record<string, unknown>) => {
    if (rootLogger.isLevelEnabled(level)) child.log(level, message, meta ?? {});
  };
  return {
    error: at("error"),
    warn: at("warn"),
    info: at("info"),
    debug: at("debug"),
    traffic: at("traffic"),
    isTrafficEnabled: () => rootLogger.isLevelEnabled("traffic"),
  };
}

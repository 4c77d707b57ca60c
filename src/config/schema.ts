import { type Static, Type } from "@sinclair/typebox";

const LISTEN_PATTERN = "^(\\[[0-9a-fA-F:.]+\\]|[^\\s:\\[\\]]+):([0-9]{1,5})$";
const BINDING_COMPONENT = Type.Union([
  Type.Literal("ips"),
  Type.Literal("hostname"),
  Type.Literal("machineId"),
  Type.Literal("osInstallId"),
]);
const LOG_LEVEL = Type.Union(
  ["error", "warn", "info", "http", "verbose", "debug", "traffic"].map((level) => Type.Literal(level)),
);

/**
 * Where the daemon POSTs events a person should hear of (a risk raised, a dummy made). Event names
 * are checked against the bridge's list when the daemon starts; here only their shape.
 */
export const WebhookSchema = Type.Object(
  {
    url: Type.String({ pattern: "^https?://[^\\s]+$", description: "http(s) URL the events are POSTed to" }),
    name: Type.Optional(
      Type.String({ pattern: "^[A-Za-z0-9._-]{1,64}$", description: "how logs, metrics and the CLI call it" }),
    ),
    events: Type.Optional(
      Type.Array(Type.String({ pattern: "^(\\*|[a-z]+\\.(\\*|[a-z]+))$" }), {
        minItems: 1,
        uniqueItems: true,
        description: "event types or patterns (risk.*, *); default: the ones that need a person",
      }),
    ),
    format: Type.Optional(
      Type.Union([Type.Literal("json"), Type.Literal("text")], {
        description: "json: the event; text: {text} for Slack-compatible chat webhooks",
      }),
    ),
    secretFile: Type.Optional(
      Type.String({ minLength: 1, description: "file holding the HMAC secret that signs each delivery" }),
    ),
    holdMs: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0, maximum: 3_600_000 }), Type.String({ minLength: 1 })], {
        description: "hold a risk.raised this long (ms or a duration such as 30s); cleared within it, neither is sent",
      }),
    ),
  },
  { additionalProperties: false },
);

export type WebhookConfig = Static<typeof WebhookSchema>;

/**
 * The read-only CodeMeter mode (docs/codemeter.md): whether it runs and where it reads. A path left
 * unset is the platform's default, which the CodeMeter module decides (`defaultServerIniPath`,
 * the tracking directory Server.ini names or `defaultTrackingDir`, `cmu` on PATH), so the
 * configuration never holds a guess of its own.
 */
export const CodeMeterConfigSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal("auto"), Type.Literal("on"), Type.Literal("off")], {
      description:
        "auto: run when CodeMeter is found on this host; on: always (missing parts are findings); off: never",
    }),
    serverIni: Type.Optional(
      Type.String({ minLength: 1, description: "CodeMeter's Server.ini (Linux, macOS); default the platform's" }),
    ),
    logDir: Type.Optional(
      Type.String({
        minLength: 1,
        description: "the License Tracking directory; default LogLicenseTrackingPath of the server configuration",
      }),
    ),
    cmu: Type.Optional(Type.String({ minLength: 1, description: "the cmu executable; default cmu on PATH" })),
  },
  { additionalProperties: false },
);

export type CodeMeterConfig = Static<typeof CodeMeterConfigSchema>;
export type CodeMeterConfigMember = keyof CodeMeterConfig;
export const CODEMETER_CONFIG_MEMBERS: readonly CodeMeterConfigMember[] = ["mode", "serverIni", "logDir", "cmu"];

/** The daemon's configuration: the file `keybridge.json`, `KEYBRIDGE_*` variables and flags all fill it. */
export const ConfigSchema = Type.Object(
  {
    listen: Type.String({ pattern: LISTEN_PATTERN, description: "HOST:PORT the HTTP API listens on" }),
    dataDir: Type.String({ minLength: 1, description: "ledger, registry file, token, virtual keys" }),
    mode: Type.Union([Type.Literal("real"), Type.Literal("virtual")]),
    registryKind: Type.Union([
      Type.Literal("ini"),
      Type.Literal("windows"),
      Type.Literal("memory"),
      Type.Literal("auto"),
    ]),
    registryPath: Type.Optional(Type.String({ minLength: 1 })),
    mirrorLagMs: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
    driftCheckMs: Type.Integer({ minimum: 100, maximum: 86_400_000 }),
    hostPollMs: Type.Integer({ minimum: 100, maximum: 86_400_000 }),
    clockCheckMs: Type.Integer({ minimum: 100, maximum: 86_400_000 }),
    exchangeTimeoutMs: Type.Integer({ minimum: 10, maximum: 600_000 }),
    queueLimit: Type.Integer({ minimum: 1, maximum: 100_000 }),
    virtualLatencyMs: Type.Number({ minimum: 0, maximum: 10_000 }),
    bindingComponents: Type.Array(BINDING_COMPONENT, { minItems: 1, uniqueItems: true }),
    logLevel: LOG_LEVEL,
    logFormat: Type.Union([Type.Literal("auto"), Type.Literal("json"), Type.Literal("text")]),
    allowRemote: Type.Boolean(),
    allowedHosts: Type.Array(
      Type.String({ pattern: "^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))$", maxLength: 255 }),
      {
        maxItems: 64,
        uniqueItems: true,
        description:
          "host names requests may be addressed to besides localhost, 127.0.0.1 and [::1] (a reverse proxy's name)",
      },
    ),
    tlsCert: Type.Optional(Type.String({ minLength: 1, description: "PEM certificate (chain): serve HTTPS" })),
    tlsKey: Type.Optional(Type.String({ minLength: 1, description: "PEM private key of tlsCert" })),
    webhooks: Type.Array(WebhookSchema, { maxItems: 16 }),
    codemeter: CodeMeterConfigSchema,
  },
  { additionalProperties: false },
);

export type KeybridgeConfig = Static<typeof ConfigSchema>;
export type ConfigField = keyof KeybridgeConfig;
/**
 * A value one source sets: a field, or a member of an object field (`codemeter.mode`). Each has
 * its own source, so `keybridge config` can say that the mode came from the file and the log
 * directory from the environment.
 */
export type ConfigKey = Exclude<ConfigField, "codemeter"> | `codemeter.${CodeMeterConfigMember}`;

type ValueKind = "string" | "path" | "integer-ms" | "integer" | "number-ms" | "boolean" | "list" | "webhooks";

export interface FieldSpec {
  field: ConfigField;
  /** For a field that is an object: the member this row sets. */
  member?: CodeMeterConfigMember;
  env: string;
  /** The `serve` flag that sets it, if any. */
  flag?: string;
  kind: ValueKind;
  /** What a valid value looks like, for error messages. */
  expected: string;
}

/** One row per field: where it comes from and how a string (env, flag) becomes a value. */
export const FIELD_SPECS: readonly FieldSpec[] = [
  { field: "listen", env: "KEYBRIDGE_LISTEN", flag: "--listen", kind: "string", expected: "HOST:PORT" },
  { field: "dataDir", env: "KEYBRIDGE_DATA_DIR", flag: "--data-dir", kind: "string", expected: "a directory path" },
  { field: "mode", env: "KEYBRIDGE_MODE", flag: "--virtual", kind: "string", expected: "real or virtual" },
  {
    field: "registryKind",
    env: "KEYBRIDGE_REGISTRY_KIND",
    kind: "string",
    expected: "auto, ini, windows or memory",
  },
  { field: "registryPath", env: "KEYBRIDGE_REGISTRY_PATH", kind: "string", expected: "a file path" },
  { field: "mirrorLagMs", env: "KEYBRIDGE_MIRROR_LAG", kind: "integer-ms", expected: "a duration up to 1h" },
  { field: "driftCheckMs", env: "KEYBRIDGE_DRIFT_CHECK", kind: "integer-ms", expected: "a duration from 100ms to 1d" },
  { field: "hostPollMs", env: "KEYBRIDGE_HOST_POLL", kind: "integer-ms", expected: "a duration from 100ms to 1d" },
  { field: "clockCheckMs", env: "KEYBRIDGE_CLOCK_CHECK", kind: "integer-ms", expected: "a duration from 100ms to 1d" },
  {
    field: "exchangeTimeoutMs",
    env: "KEYBRIDGE_EXCHANGE_TIMEOUT",
    kind: "integer-ms",
    expected: "a duration from 10ms to 10m",
  },
  { field: "queueLimit", env: "KEYBRIDGE_QUEUE_LIMIT", kind: "integer", expected: "an integer from 1 to 100000" },
  {
    field: "virtualLatencyMs",
    env: "KEYBRIDGE_VIRTUAL_LATENCY",
    kind: "number-ms",
    expected: "a duration up to 10s",
  },
  {
    field: "bindingComponents",
    env: "KEYBRIDGE_BINDING",
    kind: "list",
    expected: "a non-empty list of ips, hostname, machineId, osInstallId",
  },
  {
    field: "logLevel",
    env: "KEYBRIDGE_LOG_LEVEL",
    flag: "--log-level",
    kind: "string",
    expected: "error, warn, info, http, verbose, debug or traffic",
  },
  { field: "logFormat", env: "KEYBRIDGE_LOG_FORMAT", kind: "string", expected: "auto, json or text" },
  {
    field: "allowRemote",
    env: "KEYBRIDGE_ALLOW_REMOTE",
    flag: "--allow-remote",
    kind: "boolean",
    expected: "true or false",
  },
  {
    field: "allowedHosts",
    env: "KEYBRIDGE_ALLOWED_HOSTS",
    flag: "--allowed-hosts",
    kind: "list",
    expected: "a list of host names such as keybridge.example.lan, separated by commas",
  },
  { field: "tlsCert", env: "KEYBRIDGE_TLS_CERT", flag: "--tls-cert", kind: "string", expected: "a PEM file path" },
  { field: "tlsKey", env: "KEYBRIDGE_TLS_KEY", flag: "--tls-key", kind: "string", expected: "a PEM file path" },
  {
    field: "webhooks",
    env: "KEYBRIDGE_WEBHOOKS",
    kind: "webhooks",
    expected:
      "up to 16 webhooks: a JSON list of {url, name?, events?, format?, secretFile?}, or http(s) URLs separated by commas",
  },
  {
    field: "codemeter",
    member: "mode",
    env: "KEYBRIDGE_CODEMETER_MODE",
    flag: "--codemeter",
    kind: "string",
    expected: "auto, on or off",
  },
  {
    field: "codemeter",
    member: "serverIni",
    env: "KEYBRIDGE_CODEMETER_SERVER_INI",
    flag: "--codemeter-server-ini",
    kind: "path",
    expected: "the path of CodeMeter's Server.ini",
  },
  {
    field: "codemeter",
    member: "logDir",
    env: "KEYBRIDGE_CODEMETER_LOG_DIR",
    flag: "--codemeter-log-dir",
    kind: "path",
    expected: "the License Tracking directory",
  },
  {
    field: "codemeter",
    member: "cmu",
    env: "KEYBRIDGE_CODEMETER_CMU",
    flag: "--codemeter-cmu",
    kind: "string",
    expected: "the cmu executable: a path, or a name looked up on PATH",
  },
];

/** `codemeter.mode` for a member's row, the field's name otherwise. */
export function configKeyOf(spec: Pick<FieldSpec, "field" | "member">): ConfigKey {
  return (spec.member === undefined ? spec.field : `${spec.field}.${spec.member}`) as ConfigKey;
}

export const CONFIG_DEFAULTS: Omit<KeybridgeConfig, "dataDir" | "registryPath" | "tlsCert" | "tlsKey"> = {
  listen: "127.0.0.1:22380",
  mode: "real",
  registryKind: "auto",
  mirrorLagMs: 1_000,
  driftCheckMs: 60_000,
  hostPollMs: 5_000,
  clockCheckMs: 10_000,
  exchangeTimeoutMs: 5_000,
  queueLimit: 64,
  virtualLatencyMs: 0,
  bindingComponents: ["ips", "hostname", "machineId"],
  logLevel: "info",
  logFormat: "auto",
  allowRemote: false,
  allowedHosts: [],
  webhooks: [],
  codemeter: { mode: "auto" },
};

import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseDuration } from "./duration.js";
import { ConfigFileError, ConfigInvalidError } from "./errors.js";
import { CONFIG_FILE_NAME, defaultDataDir } from "./paths.js";
import {
  CODEMETER_CONFIG_MEMBERS,
  CONFIG_DEFAULTS,
  CodeMeterConfigSchema,
  type ConfigField,
  type ConfigKey,
  ConfigSchema,
  configKeyOf,
  FIELD_SPECS,
  type FieldSpec,
  type KeybridgeConfig,
} from "./schema.js";

/** Where an effective value came from: `default`, `file /path`, `env KEYBRIDGE_X` or `flag --x`. */
export type ConfigSource = string;

export interface LoadedConfig {
  config: KeybridgeConfig;
  /** Per field, and per member of an object field (`codemeter.mode`, `codemeter.logDir`, ...). */
  sources: Record<ConfigKey, ConfigSource>;
  /** The configuration file that was read, if one exists. */
  file: string | undefined;
  /** Things the operator should know (e.g. a remote listen address allowed on purpose). */
  warnings: string[];
}

export interface ConfigInputs {
  /** Values from command-line flags (strings as typed, booleans for switches). Undefined = not given. */
  flags?: Partial<Record<ConfigKey, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** `--config FILE`; otherwise `<dataDir>/keybridge.json` when it exists. */
  configFile?: string;
}

const SPEC_BY_KEY = new Map<string, FieldSpec>(FIELD_SPECS.map((spec) => [configKeyOf(spec), spec]));
const CODEMETER_SHAPE = `{${CODEMETER_CONFIG_MEMBERS.join(", ")}}`;

/** Defaults, then the file, then the environment, then flags: the later wins. */
export function loadConfig(inputs: ConfigInputs = {}): LoadedConfig {
  const env = inputs.env ?? process.env;
  const flags = inputs.flags ?? {};
  const values: Partial<Record<ConfigField, unknown>> = {};
  const codemeter: Record<string, unknown> = {};
  const sources = {} as Record<ConfigKey, ConfigSource>;

  const set = (key: string, raw: unknown, source: ConfigSource) => {
    const spec = SPEC_BY_KEY.get(key);
    if (spec === undefined) {
      throw new ConfigInvalidError(`${key}: unknown configuration field (from ${source})`, { field: key, source });
    }
    const value = coerce(spec, raw, source);
    if (spec.member === undefined) values[spec.field] = value;
    else codemeter[spec.member] = value;
    sources[configKeyOf(spec)] = source;
  };
  /** An object field from the file or the defaults: each member on its own, the others keep their value. */
  const setCodeMeter = (raw: unknown, source: ConfigSource) => {
    // `"codemeter": "off"` is short for `{"mode": "off"}`.
    if (typeof raw === "string") return set("codemeter.mode", raw, source);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new ConfigInvalidError(
        `codemeter: expected ${CODEMETER_SHAPE} or one of auto, on, off, got ${JSON.stringify(raw)} (from ${source})`,
        { field: "codemeter", source },
      );
    }
    for (const [member, value] of Object.entries(raw)) {
      if (!SPEC_BY_KEY.has(`codemeter.${member}`)) {
        throw new ConfigInvalidError(
          `codemeter.${member}: unknown field; codemeter takes ${CODEMETER_CONFIG_MEMBERS.join(", ")} (from ${source})`,
          { field: `codemeter.${member}`, source },
        );
      }
      set(`codemeter.${member}`, value, source);
    }
  };

  for (const [field, value] of Object.entries(CONFIG_DEFAULTS)) {
    if (field === "codemeter") setCodeMeter(value, "default");
    else set(field, value, "default");
  }
  // Unset paths are the platform's defaults, which the CodeMeter mode decides.
  for (const member of CODEMETER_CONFIG_MEMBERS) sources[`codemeter.${member}`] ??= "default";
  set("dataDir", defaultDataDir(env), "default");

  const envLayer = FIELD_SPECS.filter((spec) => env[spec.env] !== undefined && env[spec.env] !== "");
  const flagLayer = FIELD_SPECS.filter((spec) => flags[configKeyOf(spec)] !== undefined);

  // The data directory decides where the default file lives, so resolve it from env and flags first.
  const earlyDataDir =
    (flags.dataDir as string | undefined) ?? (env.KEYBRIDGE_DATA_DIR || undefined) ?? (values.dataDir as string);
  const file = inputs.configFile ?? env.KEYBRIDGE_CONFIG ?? join(earlyDataDir, CONFIG_FILE_NAME);
  const fileExplicit = inputs.configFile !== undefined || env.KEYBRIDGE_CONFIG !== undefined;
  let fileRead: string | undefined;
  if (fileExplicit || existsSync(file)) {
    fileRead = resolve(file);
    for (const [field, raw] of Object.entries(readConfigFile(fileRead))) {
      if (field === "$schema") continue;
      if (field === "codemeter") setCodeMeter(raw, `file ${fileRead}`);
      else set(field, raw, `file ${fileRead}`);
    }
  }
  for (const spec of envLayer) set(configKeyOf(spec), env[spec.env], `env ${spec.env}`);
  for (const spec of flagLayer) {
    const key = configKeyOf(spec);
    set(key, flags[key], `flag ${spec.flag ?? `--${spec.field}`}`);
  }

  for (const field of ["dataDir", "tlsCert", "tlsKey"] as const) {
    const value = values[field];
    if (typeof value === "string" && !isAbsolute(value)) values[field] = resolve(value);
  }
  for (const member of ["serverIni", "logDir"] as const) {
    const value = codemeter[member];
    if (typeof value === "string" && !isAbsolute(value)) codemeter[member] = resolve(value);
  }
  // `cmu` alone is looked up on PATH, as a shell would; `./bin/cmu` is a path.
  const cmu = codemeter.cmu;
  if (typeof cmu === "string" && /[\\/]/.test(cmu) && !isAbsolute(cmu)) codemeter.cmu = resolve(cmu);
  values.codemeter = codemeter;
  values.webhooks = (values.webhooks as KeybridgeConfig["webhooks"]).map((hook) =>
    hook.secretFile === undefined || isAbsolute(hook.secretFile)
      ? hook
      : { ...hook, secretFile: resolve(hook.secretFile) },
  );
  const config = values as KeybridgeConfig;
  checkTls(config, sources);
  return { config, sources, file: fileRead, warnings: checkListen(config, sources.listen) };
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigFileError(`cannot read the configuration file ${file}: ${(error as Error).message}`, file, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigFileError(
      `the configuration file ${file} is not valid JSON: ${(error as Error).message}`,
      file,
      error,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigFileError(`the configuration file ${file} must hold a JSON object`, file);
  }
  return parsed as Record<string, unknown>;
}

function coerce(spec: FieldSpec, raw: unknown, source: ConfigSource): unknown {
  const fail = (): never => {
    const shown = typeof raw === "string" ? `'${raw}'` : JSON.stringify(raw);
    throw new ConfigInvalidError(`${configKeyOf(spec)}: expected ${spec.expected}, got ${shown} (from ${source})`, {
      field: configKeyOf(spec),
      source,
    });
  };
  let value: unknown = raw;
  if (typeof raw === "string") {
    const text = raw.trim();
    switch (spec.kind) {
      case "integer-ms":
      case "number-ms":
        try {
          value = parseDuration(text);
        } catch {
          fail();
        }
        break;
      case "integer":
        value = /^-?\d+$/.test(text) ? Number(text) : fail();
        break;
      case "boolean":
        if (/^(true|1|yes|on)$/i.test(text)) value = true;
        else if (/^(false|0|no|off)$/i.test(text)) value = false;
        else fail();
        break;
      case "webhooks":
        value = text.startsWith("[") ? parseJsonOr(text, fail) : text.split(",").map((url) => ({ url: url.trim() }));
        break;
      case "path":
        value = text;
        break;
      case "list":
        value = text
          .split(",")
          .map((part) => part.trim())
          .filter((part) => part !== "");
        break;
      default:
        value = text;
    }
  }
  const schema =
    spec.member === undefined ? ConfigSchema.properties[spec.field] : CodeMeterConfigSchema.properties[spec.member];
  const candidate = value;
  if (!Value.Check(schema, candidate)) {
    if (spec.kind === "webhooks") failWebhooks(schema, candidate, source);
    fail();
  }
  if (spec.field === "listen" && !validPort(candidate as string)) fail();
  return candidate;
}

function parseJsonOr(text: string, fail: () => never): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail();
  }
}

/** Names the webhook and the field that is wrong: a list of objects is too much to just repeat. */
function failWebhooks(schema: TSchema, value: unknown, source: ConfigSource): never {
  const first = Value.Errors(schema, value).First();
  const where = first?.path.replace(/^\/(\d+)/, "[$1]").replaceAll("/", ".") ?? "";
  const reason =
    first === undefined
      ? "not a list of webhooks"
      : /secretFile|url|name|format|events|holdMs/.test(where) || first.path === ""
        ? first.message
        : `${first.message} (a webhook has url, name, events, format, secretFile and holdMs)`;
  throw new ConfigInvalidError(`webhooks${where}: ${reason} (from ${source})`, { field: "webhooks", source });
}

function validPort(listen: string): boolean {
  const port = Number(listen.slice(listen.lastIndexOf(":") + 1));
  return Number.isInteger(port) && port >= 0 && port <= 65_535;
}

/** Splits `HOST:PORT` (`[::1]:22380` for IPv6) into its parts. */
export function parseListen(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(":");
  const host = listen.slice(0, at).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(listen.slice(at + 1)) };
}

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** A certificate without its key (or the reverse) would silently serve plain HTTP: refused. */
function checkTls(config: KeybridgeConfig, sources: Record<ConfigKey, ConfigSource>): void {
  if ((config.tlsCert === undefined) === (config.tlsKey === undefined)) return;
  const [given, missing] =
    config.tlsCert === undefined ? (["tlsKey", "tlsCert"] as const) : (["tlsCert", "tlsKey"] as const);
  throw new ConfigInvalidError(
    `${missing}: required with ${given} (from ${sources[given]}); HTTPS needs both the certificate and its private key`,
    { field: missing, source: sources[given] },
  );
}

function checkListen(config: KeybridgeConfig, source: ConfigSource): string[] {
  const { host } = parseListen(config.listen);
  if (isLoopbackHost(host)) return [];
  if (!config.allowRemote) {
    throw new ConfigInvalidError(
      `listen: ${config.listen} is not a loopback address (from ${source}); the API would be reachable from ` +
        "other machines — set allowRemote to true (KEYBRIDGE_ALLOW_REMOTE=true or --allow-remote) if you mean it",
      { field: "listen", source },
    );
  }
  if (config.tlsCert === undefined) {
    return [
      `listening on ${config.listen}, reachable from other machines (allowRemote is set) over plain HTTP: ` +
        "the API token crosses the network readable; set tlsCert and tlsKey to serve HTTPS",
    ];
  }
  return [`listening on ${config.listen} over HTTPS, reachable from other machines (allowRemote is set)`];
}

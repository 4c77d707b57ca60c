export { formatDuration, parseDuration } from "./duration.js";
export { ConfigFileError, ConfigInvalidError, DurationInvalidError } from "./errors.js";
export {
  type ConfigInputs,
  type ConfigSource,
  isLoopbackHost,
  type LoadedConfig,
  loadConfig,
  parseListen,
} from "./load.js";
export { CONFIG_FILE_NAME, DAEMON_FILE_NAME, DEFAULT_LISTEN, defaultDataDir, TOKEN_FILE_NAME } from "./paths.js";
export {
  CODEMETER_CONFIG_MEMBERS,
  CONFIG_DEFAULTS,
  type CodeMeterConfig,
  type CodeMeterConfigMember,
  CodeMeterConfigSchema,
  type ConfigField,
  type ConfigKey,
  ConfigSchema,
  configKeyOf,
  FIELD_SPECS,
  type FieldSpec,
  type KeybridgeConfig,
  type WebhookConfig,
  WebhookSchema,
} from "./schema.js";
export { describeWebhook, shownConfig, shownWebhookUrl } from "./webhooks.js";

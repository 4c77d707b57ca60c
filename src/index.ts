/**
 * keybridge as a library: `openBridge()` gives the daemon's operations as methods and its events as
 * rxjs Observables, for services that embed keybridge instead of talking to the daemon over HTTP.
 */
export type * from "./bridge/api.js";
export { BRIDGE_EVENT_TYPES } from "./bridge/api.js";
export * from "./bridge/errors.js";
export { openBridge } from "./bridge/index.js";
export type { WebhookConfig } from "./config/index.js";
export { type CodedError, isCodedError, KeybridgeError } from "./errors.js";
export { isPreflightAction, PREFLIGHT_ACTIONS, UnknownPreflightActionError } from "./reconcile/index.js";
export { createServer, type KeybridgeServer, type ServerOptions } from "./server/app.js";
export {
  Notifier,
  type NotifierOptions,
  resolveWebhooks,
  type WebhookTestResult,
  type WebhookView,
} from "./server/notify/index.js";
export { STATUS_BY_CODE } from "./server/problem.js";

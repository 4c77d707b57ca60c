/**
 * keybridge as a library: `openBridge()` gives the daemon's operations as methods and its events as
 * rxjs Observables, for services that embed keybridge instead of talking to the daemon over HTTP.
 */
import type { Bridge, BridgeOptions } from "./bridge/api.js";
import { openBridge as openBridgeWithInternals } from "./bridge/index.js";

export type * from "./bridge/api.js";
export { BRIDGE_EVENT_TYPES, RISK_KINDS } from "./bridge/api.js";
export * from "./bridge/errors.js";

/**
 * Opens the bridge on `options.dataDir` (which it locks: one keybridge per data directory) and
 * resolves once keys, ledger, registry mirror and watchers run; `close()` releases all of it.
 * Typed as the public `Bridge`: the published types name nothing of the internals (the ledger's
 * SQLite binding among them), so a TypeScript user needs no type packages of keybridge's dependencies.
 */
export function openBridge(options: BridgeOptions): Promise<Bridge> {
  return openBridgeWithInternals(options);
}
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

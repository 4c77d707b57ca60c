export { NotifySetupError, UnknownWebhookError } from "./errors.js";
export {
  DEFAULT_DRAIN_MS,
  DEFAULT_RETRY_DELAYS_MS,
  Notifier,
  type NotifierOptions,
  type WebhookTestResult,
  type WebhookView,
} from "./notifier.js";
export { NotifyOutboxError, Outbox } from "./outbox.js";
export {
  type Delivery,
  eventText,
  type NotifiableEvent,
  renderDelivery,
  signatureHeader,
  TEST_EVENT_TYPE,
} from "./payload.js";
export { fetchSender, type Sender, type SendResult } from "./send.js";
export { DEFAULT_WEBHOOK_EVENTS, resolveWebhooks, type WebhookTarget } from "./targets.js";

/** The outbox's file in the data directory. */
export const OUTBOX_FILE_NAME = "notify-outbox.db";

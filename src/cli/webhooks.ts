import type { WebhookView } from "../server/notify/index.js";
import type { ApiClient } from "./client.js";
import { ApiError } from "./errors.js";

/** The daemon's webhooks; undefined from a daemon without /v1/notify (an older version). */
export async function daemonWebhooks(api: ApiClient): Promise<WebhookView[] | undefined> {
  try {
    return (await api.json<{ webhooks: WebhookView[] }>("GET", "/v1/notify")).webhooks;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** A webhook whose last attempt failed, or that gave up on or dropped a notification. */
export function webhookInTrouble(hook: WebhookView): boolean {
  return hook.last?.ok === false || hook.failed > 0 || hook.dropped > 0;
}

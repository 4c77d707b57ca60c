import type { KeybridgeConfig, WebhookConfig } from "./schema.js";

/**
 * `https://hooks.example.com/services/T0/B0/XYZ` → `https://hooks.example.com/…`: the path and
 * query of a chat webhook are its secret, so logs, the CLI and the API show only where it goes.
 */
export function shownWebhookUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const rest = parsed.pathname !== "/" || parsed.search !== "" ? "/…" : "/";
    return `${parsed.protocol}//${parsed.host}${rest}`;
  } catch {
    return "(not a URL)";
  }
}

/** The configuration as `keybridge config` may show it: webhook URLs cut to scheme and host. */
export function shownConfig(config: KeybridgeConfig): KeybridgeConfig {
  return { ...config, webhooks: config.webhooks.map((hook) => ({ ...hook, url: shownWebhookUrl(hook.url) })) };
}

/** One line per webhook for a table: `name → https://host/… (risk.raised, …)`. */
export function describeWebhook(hook: WebhookConfig): string {
  const events = hook.events === undefined ? "default events" : hook.events.join(", ");
  const name = hook.name === undefined ? "" : `${hook.name} → `;
  const hold =
    hook.holdMs === undefined || hook.holdMs === 0
      ? ""
      : `, risks held ${hook.holdMs}${typeof hook.holdMs === "number" ? " ms" : ""}`;
  return `${name}${shownWebhookUrl(hook.url)} (${events}${hook.secretFile === undefined ? "" : ", signed"}${hold})`;
}

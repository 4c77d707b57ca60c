import { readFileSync } from "node:fs";
import { BRIDGE_EVENT_TYPES, type BridgeEventType } from "../../bridge/api.js";
import { parseDuration, shownWebhookUrl, type WebhookConfig } from "../../config/index.js";
import { NotifySetupError } from "./errors.js";

/** What a person must hear of without watching the dashboard: a borrow in danger, and a dummy made. */
export const DEFAULT_WEBHOOK_EVENTS: readonly BridgeEventType[] = ["risk.raised", "risk.cleared", "borrow.dummy"];

export interface WebhookTarget {
  readonly name: string;
  readonly url: string;
  /** The URL without its path and query, which often hold the receiver's own secret (Slack, Teams). */
  readonly shownUrl: string;
  readonly events: ReadonlySet<BridgeEventType>;
  readonly format: "json" | "text";
  /** Signs each delivery (X-Keybridge-Signature) when set. */
  readonly secret?: Buffer;
  /** How long a risk.raised waits for its own clearing before it is sent; 0: at once. */
  readonly holdMs: number;
}

/** Expands `risk.*` and `*` against the bridge's event types; a name or pattern matching none is refused. */
export function expandEventPatterns(patterns: readonly string[], webhook: string): Set<BridgeEventType> {
  const chosen = new Set<BridgeEventType>();
  for (const pattern of patterns) {
    const matches = BRIDGE_EVENT_TYPES.filter((type) =>
      pattern === "*" ? true : pattern.endsWith(".*") ? type.startsWith(pattern.slice(0, -1)) : type === pattern,
    );
    if (matches.length === 0) {
      throw new NotifySetupError(
        `webhook ${webhook}: '${pattern}' matches no event; events are ${BRIDGE_EVENT_TYPES.join(", ")} (or a pattern such as risk.*)`,
        { webhook, event: pattern },
      );
    }
    for (const type of matches) chosen.add(type);
  }
  return chosen;
}

function defaultName(url: string, index: number): string {
  try {
    return new URL(url).hostname.replace(/[^A-Za-z0-9._-]/g, "_") || `webhook-${index + 1}`;
  } catch {
    return `webhook-${index + 1}`;
  }
}

function readSecret(file: string, webhook: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new NotifySetupError(
      `webhook ${webhook}: cannot read its secret file ${file}: ${(error as Error).message}`,
      { webhook, file },
      error,
    );
  }
  const secret = text.trim();
  if (secret.length < 16) {
    throw new NotifySetupError(
      `webhook ${webhook}: the secret in ${file} is ${secret.length === 0 ? "empty" : "shorter than 16 characters"}; ` +
        "make one with: openssl rand -hex 32",
      { webhook, file },
    );
  }
  return Buffer.from(secret, "utf8");
}

const MAX_HOLD_MS = 3_600_000;

/** `holdMs` as a number of milliseconds or a duration string ("30s"), up to an hour. */
function holdMsOf(value: number | string | undefined, webhook: string): number {
  if (value === undefined) return 0;
  let ms: number;
  try {
    ms = typeof value === "number" ? value : parseDuration(value);
  } catch (error) {
    throw new NotifySetupError(
      `webhook ${webhook}: holdMs: ${(error as Error).message}`,
      { webhook, holdMs: value },
      error,
    );
  }
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_HOLD_MS) {
    throw new NotifySetupError(`webhook ${webhook}: holdMs must be from 0 to 1h, got ${JSON.stringify(value)}`, {
      webhook,
      holdMs: value,
    });
  }
  return ms;
}

/** The configured webhooks made ready to send: names unique, event patterns expanded, secrets read. */
export function resolveWebhooks(configs: readonly WebhookConfig[]): WebhookTarget[] {
  const seen = new Set<string>();
  return configs.map((config, index) => {
    const name = config.name ?? defaultName(config.url, index);
    if (seen.has(name)) {
      throw new NotifySetupError(`two webhooks are called '${name}'; give each a distinct name (the name field)`, {
        webhook: name,
      });
    }
    seen.add(name);
    const target: WebhookTarget = {
      name,
      url: config.url,
      shownUrl: shownWebhookUrl(config.url),
      events: config.events === undefined ? new Set(DEFAULT_WEBHOOK_EVENTS) : expandEventPatterns(config.events, name),
      format: config.format ?? "json",
      holdMs: holdMsOf(config.holdMs, name),
      ...(config.secretFile === undefined ? {} : { secret: readSecret(config.secretFile, name) }),
    };
    return target;
  });
}

import { KeybridgeError } from "../../errors.js";

/** A configured webhook cannot be used: an event name that matches nothing, a secret file unreadable, a name twice. */
export class NotifySetupError extends KeybridgeError {
  constructor(message: string, details: Record<string, unknown>, cause?: unknown) {
    super("NOTIFY_SETUP_FAILED", message, { cause, details });
  }
}

/** `notify test NAME` for a name no webhook has. */
export class UnknownWebhookError extends KeybridgeError {
  constructor(name: string, known: readonly string[]) {
    super(
      "WEBHOOK_NOT_FOUND",
      known.length === 0
        ? `no webhook named '${name}': none is configured`
        : `no webhook named '${name}'; configured: ${known.join(", ")}`,
      { details: { name, known } },
    );
  }
}

import type { Delivery } from "./payload.js";
import { signatureHeader } from "./payload.js";
import type { WebhookTarget } from "./targets.js";

/** What one POST came to: an HTTP status, or why none arrived (refused, timed out, TLS). */
export type SendResult = { status: number; retryAfterMs?: number } | { error: string };

export type Sender = (target: WebhookTarget, delivery: Delivery, signal: AbortSignal) => Promise<SendResult>;

/** A receiver may ask for a pause (429, 503); longer than this and the retry schedule takes over again. */
const MAX_RETRY_AFTER_MS = 300_000;

export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS) : undefined;
}

/** The reason a fetch failed, from undici's error chain: `ECONNREFUSED`, `timed out after 5000 ms`, a TLS code. */
export function describeSendError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === "TimeoutError") return `timed out after ${timeoutMs} ms`;
  if (error instanceof Error && error.name === "AbortError") return "stopped: the daemon is shutting down";
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.message === "string" && cause.message !== "") {
    // undici's own words ("bad port") are less clear than the fetch standard's reason for them.
    return cause.message === "bad port" ? "the port is one fetch never connects to (bad port)" : cause.message;
  }
  if (typeof cause?.code === "string") return cause.code;
  return error instanceof Error ? error.message : String(error);
}

/**
 * POSTs with the global fetch. Redirects are not followed (a webhook that moved should be
 * configured at its new address, not chased with the payload); the body of the answer is ignored.
 */
export function fetchSender(options: { timeoutMs: number; userAgent: string; now?: () => number }): Sender {
  const now = options.now ?? Date.now;
  return async (target, delivery, signal) => {
    const headers: Record<string, string> = {
      "content-type": delivery.contentType,
      "user-agent": options.userAgent,
      "x-keybridge-event": delivery.type,
      "x-keybridge-delivery": delivery.id,
    };
    if (target.secret !== undefined) {
      headers["x-keybridge-signature"] = signatureHeader(target.secret, delivery.body, Math.floor(now() / 1000));
    }
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers,
        body: delivery.body,
        redirect: "manual",
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
      });
      // Releases the connection; what the receiver says in its body is not ours to parse.
      await response.body?.cancel();
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      return retryAfterMs === undefined ? { status: response.status } : { status: response.status, retryAfterMs };
    } catch (error) {
      return { error: describeSendError(error, options.timeoutMs) };
    }
  };
}

/** 2xx delivered; a timeout, a refused connection, 408, 425, 429 and 5xx are worth another try; the rest is final. */
export function classify(result: SendResult): "delivered" | "retry" | "final" {
  if ("error" in result) return "retry";
  if (result.status >= 200 && result.status < 300) return "delivered";
  if (result.status === 408 || result.status === 425 || result.status === 429 || result.status >= 500) return "retry";
  return "final";
}

export function describeResult(result: SendResult): string {
  if ("error" in result) return result.error;
  if (result.status >= 300 && result.status < 400)
    return `HTTP ${result.status}: the webhook redirects; configure its final URL`;
  return `HTTP ${result.status}`;
}

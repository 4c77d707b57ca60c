import { createHmac } from "node:crypto";
import type { BridgeEvent } from "../../bridge/api.js";
import type { WebhookTarget } from "./targets.js";

/** The event type of the delivery `notify test` sends; never published on the bridge. */
export const TEST_EVENT_TYPE = "notify.test";

/** A bridge event, or the test delivery that only `notify test` sends. */
export type NotifiableEvent = Omit<BridgeEvent, "type"> & { type: BridgeEvent["type"] | typeof TEST_EVENT_TYPE };

export interface Delivery {
  /** `<runId>-<seq>`, the same id as the event's SSE id: a receiver can drop a repeat. */
  readonly id: string;
  readonly type: string;
  readonly body: string;
  readonly contentType: string;
  /** Its row in the outbox, once kept there. */
  readonly outboxId?: number;
}

export interface DeliverySource {
  /** This host's name, so one receiver can tell several license servers apart. */
  host: string;
  runId: string;
  version: string;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the time is signed, so an old delivery cannot be replayed as new. */
export function signatureHeader(secret: Buffer, body: string, unixSeconds: number): string {
  const digest = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${digest}`;
}

/** The one line a chat channel shows: who, how bad, what happened, and what to do. */
export function eventText(event: NotifiableEvent, host: string): string {
  const risk = event.risk;
  // A risk to the CodeMeter server's borrows says so: the advice is about CodeMeter, not keybridge's keys.
  const kind = risk === undefined ? "" : risk.source === "codemeter" ? `CodeMeter ${risk.kind}` : risk.kind;
  if (event.type === "risk.raised" && risk !== undefined) {
    return `keybridge on ${host}: ${risk.severity.toUpperCase()} ${kind}: ${risk.message} What to do: ${risk.advice}`;
  }
  if (event.type === "risk.cleared" && risk !== undefined) {
    return `keybridge on ${host}: RESOLVED ${kind}: ${event.message}`;
  }
  return `keybridge on ${host}: ${event.type}: ${event.message}`;
}

export function renderDelivery(
  event: NotifiableEvent,
  target: Pick<WebhookTarget, "format">,
  source: DeliverySource,
  id = `${source.runId}-${event.seq ?? 0}`,
): Delivery {
  const body =
    target.format === "text"
      ? JSON.stringify({ text: eventText(event, source.host) })
      : JSON.stringify({ id, host: source.host, keybridge: source.version, ...event });
  return { id, type: event.type, body, contentType: "application/json" };
}

import { Type } from "@sinclair/typebox";
import { BorrowViewSchema } from "./borrows.js";
import { Iso, Serial } from "./common.js";
import { BRIDGE_EVENT_TYPES } from "./names.js";
import { RiskViewSchema } from "./status.js";

export const BridgeEventSchema = Type.Object(
  {
    type: Type.Union(BRIDGE_EVENT_TYPES.map((type) => Type.Literal(type))),
    seq: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          "position in this run's event history, from 1; with EventHistoryView.runId it names the event (the SSE id). " +
          "Absent only on the snapshot of open risks a new SSE stream starts with",
      }),
    ),
    at: Iso,
    serial: Type.Optional(Serial),
    borrow: Type.Optional(BorrowViewSchema),
    risk: Type.Optional(RiskViewSchema),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const EventHistoryViewSchema = Type.Object({
  runId: Type.String({ description: "changes at every daemon start; sequence numbers of another run mean nothing" }),
  lastSeq: Type.Integer({ minimum: 0, description: "the newest event's seq in this run (0 before the first)" }),
  truncated: Type.Boolean({ description: "some events after `after` are no longer kept or were cut by `limit`" }),
  events: Type.Array(BridgeEventSchema),
});

/** One entry of the ledger's audit trail: what keybridge did or refused, and why. Durable. */
export const AuditEntryViewSchema = Type.Object({
  id: Type.Integer({ minimum: 1, description: "increasing; pass the last one seen as `before` for the next page" }),
  at: Iso,
  kind: Type.String({
    description: "e.g. counterfeit-key, license-update-forced, rollback, repair, rebind, migrate, ledger-rebuilt",
  }),
  serial: Type.Optional(Serial),
  borrowId: Type.Optional(Type.Integer()),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});

/** One request/answer with a key, timed (the library's keyExchanges$). */
export const KeyExchangeViewSchema = Type.Object({
  serial: Type.Optional(Serial),
  command: Type.String({ description: "the command's protocol name: BORROW, SETTLE, LIST_BORROWS, GET_INFO, ..." }),
  seconds: Type.Number({
    description: "from the request leaving the queue to the whole answer read, BUSY retries included",
  }),
  waitedSeconds: Type.Number({ description: "time the request waited behind other calls to the same key before" }),
  outcome: Type.Union([Type.Literal("answered"), Type.Literal("failed")], {
    description:
      "`answered`: the key answered (OK or a refusal); `failed`: no usable answer (timeout, unplug, framing)",
  }),
  code: Type.Optional(Type.String({ description: "the refusal status or the transport error code, when not OK" })),
});

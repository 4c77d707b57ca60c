import { Type } from "@sinclair/typebox";
import { BorrowViewSchema } from "./borrows.js";
import { CodeMeterBorrowIdSchema, CodeMeterBorrowViewSchema, CodeMeterStatusSchema } from "./codemeter.js";
import { Iso, Serial, Severity } from "./common.js";
import { KeyViewSchema } from "./keys.js";
import { MaintenancePlanViewSchema } from "./maintenance.js";
import { RISK_KINDS } from "./names.js";
import { DummyViewSchema } from "./reconcile.js";

export const RiskViewSchema = Type.Object({
  kind: Type.Union(RISK_KINDS.map((kind) => Type.Literal(kind))),
  source: Type.Union([Type.Literal("keybridge"), Type.Literal("codemeter")], {
    description: "whose borrows it endangers: keybridge's own or the CodeMeter server's",
  }),
  severity: Severity,
  message: Type.String({ description: "plain language: what happened and which borrows it endangers" }),
  advice: Type.String({ description: "what to do about it" }),
  since: Iso,
  serial: Type.Optional(Serial),
  borrowIds: Type.Optional(Type.Array(Type.Integer(), { description: "keybridge borrows it endangers" })),
  codeMeterBorrowIds: Type.Optional(
    Type.Array(CodeMeterBorrowIdSchema, { description: "CodeMeter borrows it endangers (source codemeter)" }),
  ),
});

/** A borrow of either source, as the borrow list shows it. */
export const ListedBorrowViewSchema = Type.Union([BorrowViewSchema, CodeMeterBorrowViewSchema]);

export const StatusViewSchema = Type.Object({
  mode: Type.Union([Type.Literal("real"), Type.Literal("virtual")]),
  keys: Type.Array(KeyViewSchema),
  borrows: Type.Array(BorrowViewSchema, { description: "outstanding borrows (active and expired), dummies excluded" }),
  dummies: Type.Array(DummyViewSchema),
  risks: Type.Array(RiskViewSchema),
  ledger: Type.Object({
    path: Type.String(),
    healthy: Type.Boolean(),
    rebuilt: Type.Boolean(),
    lastExportAt: Type.Union([Iso, Type.Null()], {
      description: "when the ledger was last exported (the backup that holds every tag); null if never",
    }),
    problem: Type.Optional(
      Type.String({ description: "while not healthy: what is wrong (writes failing, file deleted) and what to do" }),
    ),
  }),
  maintenance: Type.Union([MaintenancePlanViewSchema, Type.Null()], { description: "the planned maintenance window" }),
  codemeter: Type.Optional(CodeMeterStatusSchema),
  registry: Type.Object({
    kind: Type.String(),
    location: Type.String(),
    lagMs: Type.Number(),
    healthy: Type.Boolean(),
    lastDriftCheck: Type.Union([Iso, Type.Null()], {
      description:
        "when the mirror last compared the registry with the ledger; null until the first check at start has " +
        "finished, while `healthy` is not yet known",
    }),
    refused: Type.Array(Type.Object({ serial: Serial, id: Type.Integer(), reason: Type.String() }), {
      description:
        "borrows the registry refused to store (a client name with a NUL, recorded before names were checked): " +
        "the ledger holds them, the other entries are copied. Empty normally",
    }),
  }),
});

export const LedgerExportViewSchema = Type.Object({
  file: Type.String(),
  borrows: Type.Integer(),
  keys: Type.Integer(),
});

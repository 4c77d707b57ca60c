import { Type } from "@sinclair/typebox";
import { PREFLIGHT_ACTIONS } from "../../reconcile/index.js";
import { CodeMeterBorrowRefSchema } from "./codemeter.js";
import { Iso, Product, Serial, Severity } from "./common.js";

export const PreflightActionSchema = Type.Union(
  PREFLIGHT_ACTIONS.map((action) => Type.Literal(action)),
  { description: "one of the nine preflight actions" },
);

export const RepairViewSchema = Type.Object({
  action: Type.String(),
  safe: Type.Boolean({
    description: "applied by `reconcile --repair`: it can neither create a dummy nor free a seat a client holds",
  }),
  description: Type.String(),
});

export const FindingViewSchema = Type.Object({
  kind: Type.String(),
  severity: Severity,
  message: Type.String(),
  repair: RepairViewSchema,
  borrowId: Type.Optional(Type.Integer()),
  serial: Type.Optional(Serial),
  product: Type.Optional(Product),
  client: Type.Optional(Type.String()),
});

export const DummyViewSchema = Type.Object({
  serial: Serial,
  product: Product,
  borrowId: Type.Integer(),
  dummyUntil: Type.Union([Iso, Type.Null()]),
  blocksProduct: Type.Boolean({ description: "borrowing of this product on this key is refused until then (rule K1)" }),
});

export const ReconcileViewSchema = Type.Object({
  findings: Type.Array(FindingViewSchema),
  dummies: Type.Array(DummyViewSchema),
  blockedProducts: Type.Array(Type.Object({ serial: Serial, product: Product, until: Type.Union([Iso, Type.Null()]) })),
  counts: Type.Record(Type.String(), Type.Integer()),
});

export const RepairResultViewSchema = Type.Object({
  applied: Type.Array(
    Type.Object({
      kind: Type.String(),
      action: Type.String(),
      borrowId: Type.Optional(Type.Integer()),
      serial: Type.Optional(Serial),
      outcome: Type.Union([Type.Literal("done"), Type.Literal("failed")]),
      message: Type.String(),
    }),
  ),
  after: ReconcileViewSchema,
});

/** A keybridge borrow in a preflight answer. */
export const PreflightBorrowViewSchema = Type.Object({
  source: Type.Literal("keybridge"),
  serial: Serial,
  id: Type.Integer(),
  product: Product,
  client: Type.String(),
  expiresAt: Iso,
});

export const PreflightViewSchema = Type.Object({
  action: PreflightActionSchema,
  safe: Type.Boolean(),
  reasons: Type.Array(Type.String()),
  advice: Type.Array(Type.String()),
  borrows: Type.Array(Type.Union([PreflightBorrowViewSchema, CodeMeterBorrowRefSchema]), {
    description: "every borrow in the way, of both sources",
  }),
  lastEndsAt: Type.Union([Iso, Type.Null()], {
    description: "when the last borrow in the way ends; null when none is, or one never expires",
  }),
});

export const MigrationItemViewSchema = Type.Object({
  serial: Serial,
  borrowId: Type.Integer(),
  client: Type.String(),
  product: Product,
  outcome: Type.Union([
    Type.Literal("rebound"),
    Type.Literal("already-current"),
    Type.Literal("refused"),
    Type.Literal("failed"),
    Type.Literal("skipped"),
  ]),
  message: Type.String(),
});

export const MigrationViewSchema = Type.Object({
  binding: Type.String({ description: "the current host binding (hex)" }),
  items: Type.Array(MigrationItemViewSchema),
  rebound: Type.Integer(),
  failed: Type.Integer(),
});

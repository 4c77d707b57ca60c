import { Type } from "@sinclair/typebox";
import { BorrowViewSchema } from "./borrows.js";
import { CodeMeterMaintenanceViewSchema } from "./codemeter.js";
import { Iso } from "./common.js";
import { PreflightActionSchema } from "./reconcile.js";

/** A planned maintenance window: from `at` on, nothing may be borrowed; borrows made before end by `at`. */
export const MaintenancePlanViewSchema = Type.Object({
  at: Iso,
  until: Type.Union([Iso, Type.Null()], { description: "borrowing opens again by itself then; null: when cancelled" }),
  action: Type.Union([PreflightActionSchema, Type.Null()], {
    description: "the dangerous action the window is for (shown, and judged by preflight at `at`)",
  }),
  note: Type.Union([Type.String(), Type.Null()]),
  plannedAt: Iso,
});

export const MaintenanceViewSchema = Type.Object({
  plan: Type.Union([MaintenancePlanViewSchema, Type.Null()]),
  phase: Type.Union([Type.Literal("none"), Type.Literal("before"), Type.Literal("during"), Type.Literal("over")], {
    description:
      "`before` the window (borrows end by `at`), `during` it (no borrows), `over` (`until` passed), or `none`",
  }),
  borrowsEndingAfter: Type.Array(BorrowViewSchema, {
    description: "outstanding borrows that end after `at`: returned early, they no longer stand in the way",
  }),
  clear: Type.Boolean({
    description: "no outstanding borrow ends after `at` (a borrow that expires before it is settled by then)",
  }),
  summary: Type.String({ description: "one sentence: what the plan means now" }),
  codemeter: Type.Optional(CodeMeterMaintenanceViewSchema),
  cancelled: Type.Optional(
    Type.Union([MaintenancePlanViewSchema, Type.Null()], {
      description: "in the answer to a cancel only: the plan that was ended (null: none was planned)",
    }),
  ),
});

export const MaintenanceRequestSchema = Type.Object(
  {
    at: Type.String({ format: "date-time", description: "when the window starts (ISO 8601, in the future)" }),
    until: Type.Optional(Type.String({ format: "date-time", description: "when borrowing opens again by itself" })),
    action: Type.Optional(PreflightActionSchema),
    note: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

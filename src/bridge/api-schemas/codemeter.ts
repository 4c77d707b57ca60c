/** The read-only CodeMeter mode's shapes (`GET /v1/codemeter`, CodeMeter borrows in the lists). */
import { Type } from "@sinclair/typebox";
import { Iso, Severity } from "./common.js";

const NullableIso = (description: string) => Type.Union([Iso, Type.Null()], { description });
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);

export const CodeMeterBorrowIdSchema = Type.String({
  pattern: "^[0-9]{1,10}(-[0-9]{1,10}){3}$",
  description: "CodeMeter borrow id: <mask>-<serial>-<firm code>-<index>, the borrowing client's container",
});

export const CodeMeterBorrowViewSchema = Type.Object({
  source: Type.Literal("codemeter"),
  borrowId: CodeMeterBorrowIdSchema,
  serial: Type.Union([Type.String(), Type.Null()], {
    description: "the server container (CmStick) holding the license",
  }),
  firmCode: NullableInteger,
  productCode: NullableInteger,
  productText: NullableString,
  client: NullableString,
  user: NullableString,
  expiresAt: NullableIso("null: the borrow never expires"),
  firstSeen: Iso,
  lastSeen: Iso,
  state: Type.Union([Type.Literal("active"), Type.Literal("missing")], {
    description: "missing: not re-listed at a server start, a Borrow Dummy is likely until dummyUntil",
  }),
  dummyUntil: NullableIso("while missing: until when the likely dummy blocks borrowing"),
});

export const CodeMeterBorrowRefSchema = Type.Object({
  source: Type.Literal("codemeter"),
  borrowId: CodeMeterBorrowIdSchema,
  serial: NullableString,
  firmCode: NullableInteger,
  productCode: NullableInteger,
  client: NullableString,
  user: NullableString,
  expiresAt: NullableIso("null: the borrow never expires"),
});

export const CodeMeterMaintenanceViewSchema = Type.Object({
  maximumBorrowDurationMinutes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: 'the WebAdmin "Maximum Borrow Duration" so a borrow made now ends by the window; null once it began',
  }),
  setting: Type.String(),
  borrowsEndingAfter: Type.Array(CodeMeterBorrowRefSchema),
  clear: Type.Boolean(),
  summary: Type.String(),
});

export const CodeMeterStatusSchema = Type.Object(
  {
    runtimeVersion: NullableString,
    serviceRunning: Type.Union([Type.Boolean(), Type.Null()]),
    trackingEnabled: Type.Union([Type.Boolean(), Type.Null()]),
    sticksPresent: Type.Integer({ minimum: 0 }),
    borrowsOutstanding: Type.Integer({ minimum: 0 }),
  },
  { description: "only while the CodeMeter mode runs" },
);

export const CodeMeterRiskSchema = Type.Object({
  kind: Type.String(),
  source: Type.Literal("codemeter"),
  severity: Severity,
  message: Type.String(),
  advice: Type.String(),
  since: Iso,
  serial: Type.Optional(Type.String()),
  codeMeterBorrowIds: Type.Optional(Type.Array(CodeMeterBorrowIdSchema)),
});

export const CodeMeterViewSchema = Type.Object({
  enabled: Type.Boolean({
    description: "false on a host without CodeMeter (or with codemeter off): everything else empty",
  }),
  mode: Type.Union([Type.Literal("auto"), Type.Literal("on"), Type.Literal("off")]),
  reason: Type.String({ description: "why the mode runs or not" }),
  runtime: Type.Object({ version: NullableString, serviceRunning: Type.Union([Type.Boolean(), Type.Null()]) }),
  tracking: Type.Object({ enabled: Type.Union([Type.Boolean(), Type.Null()]), dir: NullableString }),
  sticks: Type.Array(Type.Object({ serial: Type.String(), model: NullableString, present: Type.Boolean() })),
  borrows: Type.Array(CodeMeterBorrowViewSchema),
  risks: Type.Array(CodeMeterRiskSchema),
  findings: Type.Array(Type.Object({ code: Type.String(), message: Type.String() })),
  logLines: Type.Object({ parsed: Type.Integer({ minimum: 0 }), skipped: Type.Integer({ minimum: 0 }) }),
});

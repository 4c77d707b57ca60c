import { Type } from "@sinclair/typebox";
import { MAX_LICENSES } from "../../vocabulary/index.js";
import { BorrowViewSchema } from "./borrows.js";
import { borrowDays, Iso, Product, Serial, seats } from "./common.js";

export const LicenseInputSchema = Type.Object(
  {
    product: Product,
    seats: seats(),
    borrowable: seats("at most seats"),
    borrowDays: borrowDays("the longest borrow period"),
  },
  { additionalProperties: false },
);

export const LicenseViewSchema = Type.Object({
  product: Product,
  name: Type.Optional(Type.String()),
  seats: Type.Integer(),
  borrowable: Type.Integer(),
  borrowed: Type.Integer({ description: "active borrows on the key" }),
  dummies: Type.Integer(),
  borrowDays: Type.Integer(),
});

export const KeyViewSchema = Type.Object({
  serial: Serial,
  present: Type.Boolean(),
  kind: Type.Union([Type.Literal("keybridge"), Type.Literal("codemeter")], {
    description: "`codemeter`: a CodeMeter stick, recognised and watched, never spoken to",
  }),
  firmwareVersion: Type.Optional(Type.String()),
  licenseSetVersion: Type.Optional(Type.Integer()),
  lastSeen: Type.Optional(Iso),
  keyTime: Type.Optional(
    Type.String({
      format: "date-time",
      description:
        "the key's clock when this answer was made; a borrow's issuedAt and expiresAt are in this clock. It differs " +
        "from the server's clock only when one of them was moved (or in virtual mode, by `virtual clock`). Absent " +
        "while the key is not attached, and for CodeMeter sticks",
    }),
  ),
  licenses: Type.Array(LicenseViewSchema),
});

export const LicenseSetSchema = Type.Array(LicenseInputSchema, { minItems: 1, maxItems: MAX_LICENSES });

export const LicenseUpdateViewSchema = Type.Object({
  serial: Serial,
  licenseSetVersion: Type.Integer(),
  forced: Type.Boolean(),
  dummiesCreated: Type.Array(BorrowViewSchema, {
    description: "borrows the update turned into dummies (rule K6); empty unless forced with borrows out",
  }),
});

export const LicenseUpdateRequestSchema = Type.Object(
  {
    licenses: LicenseSetSchema,
    force: Type.Optional(
      Type.Boolean({ description: "update even with borrows out: they become Borrow Dummies (K6)" }),
    ),
  },
  { additionalProperties: false },
);

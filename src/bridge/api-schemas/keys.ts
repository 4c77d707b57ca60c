import { Type } from "@sinclair/typebox";
import { MAX_UPDATE_FILE_SIZE } from "../../protocol/index.js";
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

/** The JSON file `keybridge license-update` reads a bare license set from. */
export const LicenseSetFileSchema = Type.Object({ licenses: LicenseSetSchema }, { additionalProperties: false });

export const LicenseUpdateViewSchema = Type.Object({
  serial: Serial,
  licenseSetVersion: Type.Integer(),
  forced: Type.Boolean(),
  dummiesCreated: Type.Array(BorrowViewSchema, {
    description: "borrows the update turned into dummies (rule K6); empty unless forced with borrows out",
  }),
  updateCounter: Type.Optional(
    Type.Integer({ description: "the key's update counter after a vendor-signed update (the update's own)" }),
  ),
});

/** A license update file (`.kblu`, made by `keybridge vendor sign`) in base64: at most this many characters. */
export const MAX_UPDATE_BASE64_LENGTH = 4 * Math.ceil(MAX_UPDATE_FILE_SIZE / 3);

export const LicenseUpdateRequestSchema = Type.Object(
  {
    update: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_UPDATE_BASE64_LENGTH,
        pattern: "^[A-Za-z0-9+/]+={0,2}$",
        description: "a vendor-signed license update file (.kblu, `keybridge vendor sign`), base64",
      }),
    ),
    licenses: Type.Optional(LicenseSetSchema),
    force: Type.Optional(
      Type.Boolean({ description: "update even with borrows out: they become Borrow Dummies (K6)" }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "exactly one of `update` and `licenses`; a bare license set only for a key whose updates this daemon may sign " +
      "(virtual mode's demo vendor)",
  },
);

export const LicenseChangeViewSchema = Type.Object({
  product: Product,
  change: Type.Union([Type.Literal("added"), Type.Literal("removed"), Type.Literal("changed")]),
  before: Type.Optional(LicenseInputSchema),
  after: Type.Optional(LicenseInputSchema),
});

/** What a license update would do, judged as the key and the guard would judge it; nothing is sent. */
export const LicenseUpdatePreviewViewSchema = Type.Object({
  serial: Serial,
  signed: Type.Boolean({
    description:
      "true: a vendor-signed update file; false: a bare license set, signed by this daemon's demo vendor when sent",
  }),
  counter: Type.Union([Type.Integer(), Type.Null()], {
    description:
      "the update's counter; for a bare set, the one this daemon would sign it with (null: the key takes bare sets " +
      "as they are, or nothing here signs for its vendor)",
  }),
  keyCounter: Type.Union([Type.Integer(), Type.Null()], {
    description: "the key's update counter now: an update must be above it (null: the key takes no signed updates)",
  }),
  vendorPublicKey: Type.Union([Type.String(), Type.Null()], {
    description: "the vendor key the key was provisioned with (hex); null: not provisioned",
  }),
  signatureValid: Type.Union([Type.Boolean(), Type.Null()], {
    description: "whether the file's signature verifies with the key's vendor key; null for a bare set",
  }),
  licenseSetVersion: Type.Integer({ description: "the key's license set version now" }),
  licenses: Type.Array(LicenseInputSchema, { description: "the key's license set after the update" }),
  changes: Type.Array(LicenseChangeViewSchema, {
    description: "added, removed and changed products, by product; unchanged ones are left out",
  }),
  dummies: Type.Array(BorrowViewSchema, {
    description: "the outstanding borrows the update would turn into Borrow Dummies (rule K6)",
  }),
  unrecordedBorrowIds: Type.Array(Type.Integer(), {
    description: "active borrows the key lists that the ledger does not hold: they would become dummies too",
  }),
  forced: Type.Boolean(),
  refusal: Type.Union(
    [
      Type.Object({
        code: Type.String({ description: "the code the update would be refused with" }),
        message: Type.String(),
      }),
      Type.Null(),
    ],
    {
      description:
        "what the key (a wrong serial, a stale counter, a bad signature, not provisioned) or the guard (borrows out, " +
        "without force) would refuse; null: the update would be applied",
    },
  ),
});

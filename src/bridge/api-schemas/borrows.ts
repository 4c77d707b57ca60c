import { Type } from "@sinclair/typebox";
import { borrowDays, Client, Iso, Product, Serial, serial } from "./common.js";

export const BorrowStateSchema = Type.Union(
  [
    Type.Literal("active"),
    Type.Literal("expired"),
    Type.Literal("dummy"),
    Type.Literal("returned"),
    Type.Literal("settled"),
  ],
  {
    description:
      "`expired`: past expiresAt and not yet settled; `dummy`: blocks borrowing of its product until dummyUntil. " +
      "Listings hold only outstanding borrows (active, expired, dummy); the answer to a return and the events of a " +
      "return or settle show how the borrow ended: returned or settled (or dummy).",
  },
);

export const BorrowViewSchema = Type.Object({
  source: Type.Literal("keybridge", {
    description: "keybridge's own borrow (CodeMeter's in the same lists have source codemeter)",
  }),
  id: Type.Integer({ description: "numbered per key: with serial it names the borrow" }),
  serial: Serial,
  product: Product,
  client: Type.String(),
  issuedAt: Iso,
  expiresAt: Iso,
  state: BorrowStateSchema,
  dummyUntil: Type.Optional(Iso),
  productName: Type.Optional(Type.String()),
});

export const BorrowRequestSchema = Type.Object(
  {
    product: Product,
    client: Client,
    days: Type.Optional(borrowDays("default: the license's borrow period")),
    serial: Type.Optional(serial("the key to borrow from; default: the first holding the product")),
  },
  { additionalProperties: false },
);

export const ReturnResultViewSchema = Type.Object({
  borrow: BorrowViewSchema,
  outcome: Type.Union([Type.Literal("returned"), Type.Literal("dummy")], {
    description:
      "`returned`: the seat is free again. `dummy`: the key refused the return's proof (or held the borrow as a " +
      "dummy already): the product is blocked until borrow.dummyUntil, nothing keybridge can undo",
  }),
});

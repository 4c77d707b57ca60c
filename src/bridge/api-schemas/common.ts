/**
 * The pieces every API shape is made of. Bounds come from the vocabulary, so the schema the
 * server validates a request with and the check the bridge makes refuse the same values.
 */
import { Type } from "@sinclair/typebox";
import { MAX_BORROW_DAYS, MAX_CLIENT_BYTES, MAX_PRODUCT, MAX_SEATS, SEVERITIES } from "../../vocabulary/index.js";

const described = (description: string | undefined) => (description === undefined ? {} : { description });

export const Iso = Type.String({ format: "date-time", description: "ISO 8601" });
export const Severity = Type.Union(SEVERITIES.map((severity) => Type.Literal(severity)));
export const Product = Type.Integer({ minimum: 0, maximum: MAX_PRODUCT, description: "product code (u32)" });

/** Longer than a key's serial may be: a lookup by an unknown serial is answered 404, not refused as malformed. */
export const serial = (description?: string) => Type.String({ minLength: 1, maxLength: 64, ...described(description) });
export const Serial = serial();

export const borrowDays = (description?: string) =>
  Type.Integer({ minimum: 1, maximum: MAX_BORROW_DAYS, ...described(description) });
export const seats = (description?: string) =>
  Type.Integer({ minimum: 0, maximum: MAX_SEATS, ...described(description) });

/** No control character, line break or bidirectional control (the bridge also refuses unpaired surrogates). */
const CLIENT_PATTERN =
  "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]*$";

/** A client name as a borrow request carries it; the bridge counts its bytes (a schema counts characters). */
export const Client = Type.String({
  minLength: 1,
  maxLength: MAX_CLIENT_BYTES,
  pattern: CLIENT_PATTERN,
  description: `client computer or user; at most ${MAX_CLIENT_BYTES} bytes UTF-8, no control characters, line breaks or bidirectional controls`,
});

import { Type } from "@sinclair/typebox";
import { MAX_LICENSES } from "../../vocabulary/index.js";
import { Iso, Serial } from "./common.js";
import { LicenseInputSchema } from "./keys.js";

export const VirtualKeyViewSchema = Type.Object({
  serial: Serial,
  plugged: Type.Boolean(),
  keyTime: Iso,
  licenses: Type.Array(LicenseInputSchema),
});

export const VirtualCreateSchema = Type.Object(
  {
    serial: Type.Optional(Serial),
    licenses: Type.Optional(Type.Array(LicenseInputSchema, { maxItems: MAX_LICENSES })),
  },
  { additionalProperties: false },
);

export const VirtualHostSchema = Type.Object(
  {
    ip: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    hostname: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    machineId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const VirtualHostViewSchema = Type.Object({
  ips: Type.Array(Type.String()),
  hostname: Type.String(),
  machineId: Type.String(),
});

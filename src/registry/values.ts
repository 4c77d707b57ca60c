import { RegistryInvalidArgumentError } from "./errors.js";
import { isStorableText } from "./text.js";
import type { RegistryValue } from "./types.js";

const MAX_VALUE_NAME_LENGTH = 16_383;
const U32_MAX = 0xffff_ffff;

export function checkValueName(name: string, path: string): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new RegistryInvalidArgumentError(`Registry value name under "${path}" must be a non-empty string`, {
      details: { path },
    });
  }
  if (name.length > MAX_VALUE_NAME_LENGTH || !isStorableText(name)) {
    throw new RegistryInvalidArgumentError(
      `Registry value name under "${path}" is too long or holds a NUL or an unpaired surrogate`,
      { details: { path } },
    );
  }
}

/**
 * Validates a value and returns a private copy (binaries are copied so a caller's later
 * mutation of its buffer cannot change what is stored).
 */
export function acceptValue(value: RegistryValue, where: string): RegistryValue {
  const bad = (why: string) =>
    new RegistryInvalidArgumentError(`Registry value ${where}: ${why}`, { details: { where } });
  if (value === null || typeof value !== "object") throw bad("not a typed value");
  switch (value.type) {
    case "string":
      if (typeof value.value !== "string") throw bad("string value is not a string");
      if (!isStorableText(value.value)) {
        throw bad("string holds a NUL or an unpaired surrogate");
      }
      return { type: "string", value: value.value };
    case "u32":
      if (!Number.isInteger(value.value) || value.value < 0 || value.value > U32_MAX) {
        throw bad(`u32 must be an integer in 0..${U32_MAX}, got ${String(value.value)}`);
      }
      return { type: "u32", value: value.value };
    case "binary":
      if (!(value.value instanceof Uint8Array)) throw bad("binary value is not a Uint8Array");
      return { type: "binary", value: new Uint8Array(value.value) };
    default:
      throw bad(`unknown type ${JSON.stringify((value as { type?: unknown }).type)}`);
  }
}

/** A copy safe to hand out: stored binaries are never shared with callers. */
export function copyValue(value: RegistryValue): RegistryValue {
  return value.type === "binary" ? { type: "binary", value: new Uint8Array(value.value) } : value;
}

export function sameValue(a: RegistryValue, b: RegistryValue): boolean {
  if (a.type !== b.type) return false;
  if (a.type === "binary" && b.type === "binary") {
    return a.value.length === b.value.length && a.value.every((byte, i) => byte === b.value[i]);
  }
  return a.value === b.value;
}

import { RegistryCorruptError } from "./errors.js";
import type { RegistryValue } from "./types.js";

/**
 * Names and typed values as the INI registry writes them on a line, `Name=type:data`
 * (docs/registry.md). Names and string data are percent-encoded (UTF-8 bytes, `%XX`) only where a
 * character would break the structure, so ordinary names stay readable.
 */

// Characters that would end a name, a section, or a line, or start a comment or section.
const NAME_UNSAFE = /[%\\=[\];\x00-\x1f\x7f]|^ | $/;
const NAME_UNSAFE_ALL = /[%\\=[\];\x00-\x1f\x7f]|^ | $/g;
const TEXT_UNSAFE = /[%\x00-\x1f\x7f]|^ | $/;
const TEXT_UNSAFE_ALL = /[%\x00-\x1f\x7f]|^ | $/g;
const U32_TEXT = /^(0|[1-9][0-9]{0,9})$/;
const HEX_TEXT = /^(?:[0-9a-f]{2})*$/;

function percent(char: string): string {
  // Every unsafe character is ASCII, so one byte.
  return `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
}

export function encodeName(name: string): string {
  return NAME_UNSAFE.test(name) ? name.replace(NAME_UNSAFE_ALL, percent) : name;
}

export function encodeText(text: string): string {
  return TEXT_UNSAFE.test(text) ? text.replace(TEXT_UNSAFE_ALL, percent) : text;
}

export function decodeEscaped(text: string): string {
  // Only `%XX` escapes are produced; decodeURIComponent inverts them and throws on a malformed one.
  return text.includes("%") ? decodeURIComponent(text) : text;
}

export function encodeValue(value: RegistryValue): string {
  switch (value.type) {
    case "string":
      return `str:${encodeText(value.value)}`;
    case "u32":
      return `u32:${value.value}`;
    case "binary":
      return `bin:${Buffer.from(value.value.buffer, value.value.byteOffset, value.value.byteLength).toString("hex")}`;
  }
}

/** The value of `type:data`, or `undefined` when it is not well-formed. Throws on a malformed escape. */
export function decodeValue(encoded: string): RegistryValue | undefined {
  const data = encoded.slice(4);
  switch (encoded.slice(0, 4)) {
    case "str:":
      return { type: "string", value: decodeEscaped(data) };
    case "u32:": {
      if (!U32_TEXT.test(data)) return undefined;
      const number = Number(data);
      return number <= 0xffff_ffff ? { type: "u32", value: number } : undefined;
    }
    case "bin:":
      // A fresh array: nothing else holds it, so callers may keep it without a copy.
      return HEX_TEXT.test(data) ? { type: "binary", value: new Uint8Array(Buffer.from(data, "hex")) } : undefined;
    default:
      return undefined;
  }
}

/**
 * Values as the INI file holds them, one `Name=type:data` line each, `\n`-joined, in the given
 * order: equal texts mean equal names and values, so a caller compares a key with what it expects
 * without decoding it (see `RegistryKeyListing.valueLines`).
 */
export function encodeValueLines(entries: Iterable<{ readonly name: string; readonly value: RegistryValue }>): string {
  const lines: string[] = [];
  for (const { name, value } of entries) lines.push(`${encodeName(name)}=${encodeValue(value)}`);
  return lines.join("\n");
}

/**
 * One line of `encodeValueLines` text, built without a typed value: `hex` takes the lower-case hex
 * the caller already holds for a binary (a ledger row's binding, tag, opId), so the mirror's
 * comparison, which runs every poll, converts no bytes.
 */
export const valueLine = {
  u32: (name: string, value: number): string => `${encodeName(name)}=u32:${value}`,
  string: (name: string, value: string): string => `${encodeName(name)}=str:${encodeText(value)}`,
  hex: (name: string, hex: string): string => `${encodeName(name)}=bin:${hex}`,
};

/** A stored value with the name's case as first written. */
export interface StoredValue {
  readonly name: string;
  readonly value: RegistryValue;
}

/**
 * Decodes value lines (`Name=type:data`, joined by `\n`) that the parser has already validated, so
 * nothing here can fail on content read from the file; `visit` gets each name and value.
 */
export function forEachValueLine(lines: string, visit: (name: string, value: RegistryValue) => void): void {
  let start = 0;
  while (start < lines.length) {
    let end = lines.indexOf("\n", start);
    if (end < 0) end = lines.length;
    const equals = lines.indexOf("=", start);
    const value = decodeValue(lines.slice(equals + 1, end));
    // Unreachable for validated lines; a bug here must not turn into a silently missing value.
    if (value === undefined)
      throw new RegistryCorruptError(`Registry value line is malformed: ${lines.slice(start, end)}`);
    visit(decodeEscaped(lines.slice(start, equals)), value);
    start = end + 1;
  }
}

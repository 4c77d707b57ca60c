import { createHash } from "node:crypto";
import { RegistryCorruptError } from "./errors.js";
import { KeyNode } from "./key-tree.js";
import { foldCase } from "./path.js";
import type { RegistryValue } from "./types.js";

/**
 * The INI registry file format, version 1 (documented in docs/registry.md):
 *
 *   ; keybridge registry format=1 (...)
 *   [Borrows\K-1\42]
 *   Product=u32:1001
 *   Client=str:ws-12.cad.local
 *   Binding=bin:9f86d0...
 *   ; checksum=sha256:<hex of the SHA-256 of every byte before this line>
 *
 * Sections are key paths relative to `SOFTWARE\keybridge` (`[]` is the root itself). Names and
 * string data are percent-encoded (UTF-8 bytes, `%XX`) only where a character would break the
 * structure, so ordinary names stay readable.
 */
export const INI_FORMAT_HEADER =
  "; keybridge registry format=1 (keys under SOFTWARE\\keybridge; do not edit: the checksum must match)";
const CHECKSUM_PREFIX = "; checksum=sha256:";
const CHECKSUM_LINE = /^; checksum=sha256:([0-9a-f]{64})$/;

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
      return HEX_TEXT.test(data) ? { type: "binary", value: new Uint8Array(Buffer.from(data, "hex")) } : undefined;
    default:
      return undefined;
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Serialises the whole tree, checksum line included. */
export function serializeIni(root: KeyNode): { bytes: Buffer; checksum: string } {
  const lines: string[] = [INI_FORMAT_HEADER];
  const writeKey = (node: KeyNode, sectionPath: string, isRoot: boolean) => {
    if (!isRoot || node.values.size > 0) {
      lines.push("", `[${sectionPath}]`);
      for (const { name, value } of node.values.values()) lines.push(`${encodeName(name)}=${encodeValue(value)}`);
    }
    for (const child of node.subkeys.values()) {
      const childName = encodeName(child.name);
      writeKey(child, isRoot ? childName : `${sectionPath}\\${childName}`, false);
    }
  };
  writeKey(root, "", true);
  lines.push("");
  const body = Buffer.from(lines.join("\n"), "utf8");
  const checksum = sha256Hex(body);
  return { bytes: Buffer.concat([body, Buffer.from(`${CHECKSUM_PREFIX}${checksum}\n`, "ascii")]), checksum };
}

/** Verifies the trailing checksum and returns it with the bytes it covers. */
export function verifyIniChecksum(bytes: Buffer, file: string): { checksum: string; body: Buffer } {
  const corrupt = (why: string) =>
    new RegistryCorruptError(
      `Registry file ${file} is corrupt (${why}); keybridge will not read it. Restore it from the ledger with "keybridge reconcile --repair".`,
      { details: { file, reason: why } },
    );
  if (bytes.length === 0) throw corrupt("the file is empty, probably truncated");
  if (bytes[bytes.length - 1] !== 0x0a) throw corrupt("the checksum line is missing, the file is probably truncated");
  const lineStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
  const match = CHECKSUM_LINE.exec(bytes.subarray(lineStart, bytes.length - 1).toString("latin1"));
  if (match === null) throw corrupt("the checksum line is missing or malformed, the file is probably truncated");
  const body = bytes.subarray(0, lineStart);
  const actual = sha256Hex(body);
  if (actual !== match[1])
    throw corrupt(`checksum mismatch: the file says ${match[1]}, the content hashes to ${actual}`);
  return { checksum: actual, body };
}

/** Parses a body whose checksum was verified; anything unexpected is still corruption. */
export function parseIniBody(body: Buffer, file: string): KeyNode {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch (cause) {
    throw new RegistryCorruptError(`Registry file ${file} is not valid UTF-8`, { cause, details: { file } });
  }
  const lines = text.split("\n");
  if (lines[0] !== INI_FORMAT_HEADER) {
    throw new RegistryCorruptError(
      `Registry file ${file} is not a keybridge registry (format=1): its first line is not the keybridge header`,
      { details: { file } },
    );
  }
  const root = new KeyNode("");
  const seenSections = new Set<string>();
  let current: KeyNode | undefined;
  for (let index = 1; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.length === 0 || line.startsWith(";")) continue;
    const bad = (why: string, cause?: unknown) =>
      new RegistryCorruptError(`Registry file ${file} line ${index + 1}: ${why}`, {
        cause,
        details: { file, line: index + 1 },
      });
    try {
      if (line.startsWith("[")) {
        if (!line.endsWith("]")) throw bad("section header without closing ]");
        const inner = line.slice(1, -1);
        const parts = inner === "" ? [] : inner.split("\\").map(decodeEscaped);
        if (parts.some((part) => part.length === 0)) throw bad("empty key name in section header");
        const folded = parts.map(foldCase).join("\\");
        if (seenSections.has(folded)) throw bad(`section [${inner}] appears twice`);
        seenSections.add(folded);
        current = root.ensure(parts);
        continue;
      }
      const equals = line.indexOf("=");
      if (equals <= 0) throw bad("expected name=type:data");
      if (current === undefined) throw bad("value outside any section");
      const name = decodeEscaped(line.slice(0, equals));
      const value = decodeValue(line.slice(equals + 1));
      if (value === undefined) throw bad(`value of "${name}" is not str:, u32: or bin: data`);
      const folded = foldCase(name);
      if (current.values.has(folded)) throw bad(`value "${name}" appears twice in its section`);
      current.values.set(folded, { name, value });
    } catch (error) {
      if (error instanceof RegistryCorruptError) throw error;
      throw bad("malformed percent escape", error);
    }
  }
  return root;
}

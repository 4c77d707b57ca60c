import { isAscii } from "node:buffer";
import { createHash } from "node:crypto";
import { RegistryCorruptError } from "./errors.js";
import { decodeEscaped, decodeValue, encodeName, encodeValueLines } from "./ini-codec.js";
import { KeyNode } from "./key-tree.js";
import { foldCase } from "./path.js";

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

const CHECKSUM_LINE_TEXT = /^; checksum=sha256:([0-9a-f]{64})$/;
const U32_DATA = /(?:0|[1-9][0-9]{0,9})(?=\n|$)/y;
const HEX_DATA = /(?:[0-9a-f]{2})*(?=\n|$)/y;
const PLAIN_TEXT = /[^%\n]*/y;
/** Bytes hashed, or lines parsed, between two yields to the event loop in the chunked variants. */
const HASH_CHUNK_BYTES = 1 << 20;
const PARSE_CHUNK_LINES = 20_000;

export { decodeEscaped, decodeValue, encodeName, encodeText, encodeValue } from "./ini-codec.js";

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Serialises the whole tree, checksum line included, in one join. Keys still holding their value
 * lines are copied as they are; decoded keys are encoded and keep that text instead of their
 * decoded values (the content is the same; only how the node holds it changes).
 */
export function serializeIni(root: KeyNode): { bytes: Buffer; checksum: string } {
  const parts: string[] = [INI_FORMAT_HEADER];
  const writeKey = (node: KeyNode, sectionPath: string, isRoot: boolean) => {
    if (!isRoot || node.hasValues) {
      parts.push("", `[${sectionPath}]`);
      let lines = node.valueLines;
      if (lines === undefined && node.hasValues) {
        lines = encodeValueLines(node.values.values());
        // Back to text: the same content, and the cached tree keeps text rather than value objects.
        node.adoptValueLines(lines);
      }
      if (lines !== undefined) parts.push(lines);
    }
    if (!node.hasSubkeys) return;
    for (const child of node.subkeys.values()) {
      const childName = encodeName(child.name);
      writeKey(child, isRoot ? childName : `${sectionPath}\\${childName}`, false);
    }
  };
  writeKey(root, "", true);
  parts.push("");
  const body = Buffer.from(parts.join("\n"), "utf8");
  const checksum = sha256Hex(body);
  return { bytes: Buffer.concat([body, Buffer.from(`${CHECKSUM_PREFIX}${checksum}\n`, "ascii")]), checksum };
}

function corruptFile(file: string, why: string): RegistryCorruptError {
  return new RegistryCorruptError(
    `Registry file ${file} is corrupt (${why}); keybridge will not read it. Restore it from the ledger with "keybridge reconcile --repair".`,
    { details: { file, reason: why } },
  );
}

/** The checksum the last line states and the bytes it covers; throws when that line is missing. */
function splitChecksumLine(bytes: Buffer, file: string): { stated: string; body: Buffer } {
  if (bytes.length === 0) throw corruptFile(file, "the file is empty, probably truncated");
  if (bytes[bytes.length - 1] !== 0x0a) {
    throw corruptFile(file, "the checksum line is missing, the file is probably truncated");
  }
  const lineStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
  const match = CHECKSUM_LINE_TEXT.exec(bytes.subarray(lineStart, bytes.length - 1).toString("latin1"));
  if (match === null)
    throw corruptFile(file, "the checksum line is missing or malformed, the file is probably truncated");
  return { stated: match[1]!, body: bytes.subarray(0, lineStart) };
}

function checkStated(stated: string, actual: string, file: string): void {
  if (actual !== stated)
    throw corruptFile(file, `checksum mismatch: the file says ${stated}, the content hashes to ${actual}`);
}

/** Verifies the trailing checksum and returns it with the bytes it covers. */
export function verifyIniChecksum(bytes: Buffer, file: string): { checksum: string; body: Buffer } {
  const { stated, body } = splitChecksumLine(bytes, file);
  const actual = sha256Hex(body);
  checkStated(stated, actual, file);
  return { checksum: actual, body };
}

/** `verifyIniChecksum`, hashing 1 MiB at a time with `pause()` between, so a large file does not block. */
export async function verifyIniChecksumChunked(
  bytes: Buffer,
  file: string,
  pause: () => Promise<void>,
): Promise<{ checksum: string; body: Buffer }> {
  const { stated, body } = splitChecksumLine(bytes, file);
  const hash = createHash("sha256");
  for (let at = 0; at < body.length; at += HASH_CHUNK_BYTES) {
    hash.update(body.subarray(at, at + HASH_CHUNK_BYTES));
    if (at + HASH_CHUNK_BYTES < body.length) await pause();
  }
  const actual = hash.digest("hex");
  checkStated(stated, actual, file);
  return { checksum: actual, body };
}

/** The body as text: UTF-8, one byte per character when it is ASCII (the usual case). */
export function decodeIniBody(body: Buffer, file: string): string {
  // Latin-1 gives the same string for ASCII and keeps it at one byte per character.
  if (isAscii(body)) return body.toString("latin1");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch (cause) {
    throw new RegistryCorruptError(`Registry file ${file} is not valid UTF-8`, { cause, details: { file } });
  }
}

/**
 * Scans the text once, line by line, and validates every line as it goes; a section's value lines
 * are kept as one slice of the text and decoded only when used (see `KeyNode`).
 */
class IniParser {
  private readonly root = new KeyNode("");
  private readonly declared = new Set<KeyNode>();
  private readonly valueNames = new Set<string>();
  private pos: number;
  private line = 1;
  private current: KeyNode | undefined;
  /** The current section's contiguous value lines; `eager` once a blank or comment line split them. */
  private runStart = -1;
  private runEnd = -1;
  private runClosed = false;
  private eager = false;
  private parentText: string | undefined;
  private parent: KeyNode | undefined;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {
    const headerEnd = text.indexOf("\n");
    if ((headerEnd < 0 ? text : text.slice(0, headerEnd)) !== INI_FORMAT_HEADER) {
      throw new RegistryCorruptError(
        `Registry file ${file} is not a keybridge registry (format=1): its first line is not the keybridge header`,
        { details: { file } },
      );
    }
    this.pos = headerEnd < 0 ? text.length : headerEnd + 1;
  }

  /** Parses up to `maxLines` lines; true when the whole text is parsed. */
  step(maxLines: number): boolean {
    const text = this.text;
    for (let count = 0; count < maxLines; count++) {
      if (this.pos >= text.length) {
        this.endSection();
        return true;
      }
      let end = text.indexOf("\n", this.pos);
      if (end < 0) end = text.length;
      this.line++;
      try {
        this.parseLine(this.pos, end);
      } catch (error) {
        if (error instanceof RegistryCorruptError) throw error;
        throw this.bad("malformed percent escape", error);
      }
      this.pos = end + 1;
    }
    return this.pos >= text.length && this.finish();
  }

  result(): KeyNode {
    return this.root;
  }

  private finish(): true {
    this.endSection();
    return true;
  }

  private parseLine(start: number, end: number): void {
    const text = this.text;
    const first = text.charCodeAt(start);
    if (end === start || first === 0x3b /* ; */) {
      if (this.runStart >= 0) this.runClosed = true;
      return;
    }
    if (first === 0x5b /* [ */) {
      this.endSection();
      this.beginSection(text.slice(start, end));
      return;
    }
    const equals = text.indexOf("=", start);
    if (equals <= start || equals >= end) throw this.bad("expected name=type:data");
    const node = this.current;
    if (node === undefined) throw this.bad("value outside any section");
    const name = decodeEscaped(text.slice(start, equals));
    if (!this.validData(equals + 1, end)) throw this.bad(`value of "${name}" is not str:, u32: or bin: data`);
    const folded = foldCase(name);
    if (this.valueNames.has(folded)) throw this.bad(`value "${name}" appears twice in its section`);
    this.valueNames.add(folded);
    if (this.eager) {
      node.setValue(name, decodeValue(text.slice(equals + 1, end))!);
    } else if (this.runStart < 0) {
      this.runStart = start;
      this.runEnd = end;
    } else if (!this.runClosed) {
      this.runEnd = end;
    } else {
      // A hand-edited section with blank or comment lines among its values: decode it now.
      this.flushRun(node);
      this.eager = true;
      node.setValue(name, decodeValue(text.slice(equals + 1, end))!);
    }
  }

  private validData(start: number, end: number): boolean {
    const text = this.text;
    if (text.startsWith("str:", start)) {
      // Only a line with an escape needs decoding to be validated (and indexOf would search past the line).
      PLAIN_TEXT.lastIndex = start + 4;
      PLAIN_TEXT.test(text);
      if (PLAIN_TEXT.lastIndex !== end) decodeEscaped(text.slice(start + 4, end));
      return true;
    }
    const pattern = text.startsWith("u32:", start) ? U32_DATA : text.startsWith("bin:", start) ? HEX_DATA : undefined;
    if (pattern === undefined) return false;
    pattern.lastIndex = start + 4;
    if (!pattern.test(text) || pattern.lastIndex !== end) return false;
    return pattern !== U32_DATA || Number(text.slice(start + 4, end)) <= 0xffff_ffff;
  }

  private beginSection(line: string): void {
    if (!line.endsWith("]")) throw this.bad("section header without closing ]");
    const inner = line.slice(1, -1);
    let node: KeyNode;
    if (inner === "") {
      node = this.root;
    } else {
      const cut = inner.lastIndexOf("\\");
      if (cut === 0) throw this.bad("empty key name in section header");
      const parentText = cut < 0 ? "" : inner.slice(0, cut);
      const last = decodeEscaped(inner.slice(cut + 1));
      if (last.length === 0) throw this.bad("empty key name in section header");
      // Sections of one serial follow each other: their parent is found once.
      if (this.parentText !== parentText || this.parent === undefined) {
        const parts = parentText === "" ? [] : parentText.split("\\").map(decodeEscaped);
        if (parts.some((part) => part.length === 0)) throw this.bad("empty key name in section header");
        this.parent = this.root.ensure(parts);
        this.parentText = parentText;
      }
      const folded = foldCase(last);
      const subkeys = this.parent.subkeys;
      let child = subkeys.get(folded);
      if (child === undefined) {
        child = new KeyNode(last);
        subkeys.set(folded, child);
      }
      node = child;
    }
    if (this.declared.has(node)) throw this.bad(`section [${inner}] appears twice`);
    this.declared.add(node);
    this.current = node;
  }

  private endSection(): void {
    if (this.current !== undefined && !this.eager) this.flushRun(this.current);
    this.runStart = -1;
    this.runEnd = -1;
    this.runClosed = false;
    this.eager = false;
    this.valueNames.clear();
  }

  private flushRun(node: KeyNode): void {
    if (this.runStart >= 0) node.adoptValueLines(this.text.slice(this.runStart, this.runEnd));
    this.runStart = -1;
  }

  private bad(why: string, cause?: unknown): RegistryCorruptError {
    return new RegistryCorruptError(`Registry file ${this.file} line ${this.line}: ${why}`, {
      cause,
      details: { file: this.file, line: this.line },
    });
  }
}

/** Parses a body whose checksum was verified; anything unexpected is still corruption. */
export function parseIniBody(body: Buffer, file: string): KeyNode {
  const parser = new IniParser(decodeIniBody(body, file), file);
  parser.step(Number.POSITIVE_INFINITY);
  return parser.result();
}

/**
 * Parses the decoded body (`decodeIniBody`) in chunks of lines with `pause()` between, so the event
 * loop keeps serving. Takes the text, not the bytes, so a caller can let go of the bytes first.
 */
export async function parseIniTextChunked(text: string, file: string, pause: () => Promise<void>): Promise<KeyNode> {
  const parser = new IniParser(text, file);
  while (!parser.step(PARSE_CHUNK_LINES)) await pause();
  return parser.result();
}

import {
  type AccessEntry,
  type AdminEntry,
  type BorrowEntry,
  type DenialEntry,
  fieldValue,
  type LicenseEntry,
  type LineResult,
  type OtherEntry,
  type ReleaseEntry,
  type SkipReason,
  type TrackingEntry,
  type TrackingField,
} from "./entries.js";
import { isNever, parseTimestamp, parseTimestampAt, timestampLength } from "./timestamp.js";

/**
 * One line of the License Tracking log → a typed entry, or the reason it was skipped. Never
 * throws, whatever the input. The grammar: `<timestamp> <Type> <fields>`, fields `Key:value`
 * separated by `, `, string values in double quotes with `\"` for a quote inside; a few lines
 * (Admin) carry bare words after the fields.
 *
 * Logs reach gigabytes, mostly Access and Release entries that the borrow view does not need, so:
 * the line is checked whole (timestamp, type, every quote closed) for every entry, but the field
 * objects of Access, Release, Denial and unknown entries are built only when something reads
 * them. Borrow, License, Admin and log-file headers are decoded at once. Scanning jumps from
 * separator to separator with `indexOf` instead of visiting every character.
 */

const SPACE = 32;
const TAB = 9;
const COMMA = 44;
const COLON = 58;
const QUOTE = 34;
const BACKSLASH = 92;

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

function isKeyChar(code: number): boolean {
  return isLetter(code) || (code >= 48 && code <= 57) || code === 45 || code === 95;
}

const skip = (reason: SkipReason): LineResult => ({ ok: false, reason });

/** Index of the quote closing a string that starts at `from`, or -1. Only `\"` is an escape. */
function closingQuote(line: string, from: number, end: number): number {
  let at = line.indexOf('"', from);
  while (at >= 0 && at < end) {
    if (at === from || line.charCodeAt(at - 1) !== BACKSLASH) return at;
    at = line.indexOf('"', at + 1);
  }
  return -1;
}

/** The end of an unquoted token: the first ',', ' ' (or tab, when the line has one) at or after `from`. */
function tokenEnd(line: string, from: number, end: number, tabs: boolean): number {
  let stop = end;
  let at = line.indexOf(",", from);
  if (at >= 0 && at < stop) stop = at;
  at = line.indexOf(" ", from);
  if (at >= 0 && at < stop) stop = at;
  if (tabs) {
    at = line.indexOf("\t", from);
    if (at >= 0 && at < stop) stop = at;
  }
  return stop;
}

function unescapeQuotes(text: string): string {
  return text.includes('\\"') ? text.replaceAll('\\"', '"') : text;
}

/**
 * Walks the fields and words of `line[pos, end)`. Collects them when `fields`/`words` are given,
 * only checks them otherwise. False when a quote is never closed.
 */
function scanFields(
  line: string,
  pos: number,
  end: number,
  fields: TrackingField[] | null,
  words: string[] | null,
): boolean {
  const tabs = line.indexOf("\t", pos) >= 0;
  while (pos < end) {
    const code = line.charCodeAt(pos);
    if (code === SPACE || code === COMMA || code === TAB) {
      pos++;
      continue;
    }
    if (code === QUOTE) {
      const closing = closingQuote(line, pos + 1, end);
      if (closing < 0) return false;
      words?.push(unescapeQuotes(line.slice(pos + 1, closing)));
      pos = closing + 1;
      continue;
    }
    // A key is a letter followed by letters, digits, '-' or '_', then ':'.
    if (isLetter(code)) {
      let keyEnd = pos + 1;
      while (keyEnd < end && isKeyChar(line.charCodeAt(keyEnd))) keyEnd++;
      if (keyEnd < end && line.charCodeAt(keyEnd) === COLON) {
        const valueStart = keyEnd + 1;
        if (valueStart < end && line.charCodeAt(valueStart) === QUOTE) {
          const closing = closingQuote(line, valueStart + 1, end);
          if (closing < 0) return false;
          fields?.push({
            key: line.slice(pos, keyEnd),
            value: unescapeQuotes(line.slice(valueStart + 1, closing)),
            quoted: true,
          });
          pos = closing + 1;
        } else {
          const valueEnd = tokenEnd(line, valueStart, end, tabs);
          fields?.push({ key: line.slice(pos, keyEnd), value: line.slice(valueStart, valueEnd), quoted: false });
          pos = valueEnd;
        }
        continue;
      }
    }
    const wordEnd = tokenEnd(line, pos, end, tabs);
    words?.push(line.slice(pos, wordEnd));
    pos = wordEnd;
  }
  return true;
}

/** Parses `line` (no line terminator; a trailing `\r` is ignored). */
export function parseTrackingLine(line: string): LineResult {
  let end = line.length;
  let last = line.charCodeAt(end - 1);
  while (end > 0 && (last === 13 || last === SPACE)) last = line.charCodeAt(--end - 1);
  let pos = line.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (pos < end && (line.charCodeAt(pos) === SPACE || line.charCodeAt(pos) === TAB)) pos++;
  if (pos >= end) return skip("empty");

  const tsLength = timestampLength(line, pos);
  if (tsLength === 0 || pos + tsLength > end) return skip("no-timestamp");
  const at = parseTimestampAt(line, pos);
  if (Number.isNaN(at)) return skip("no-timestamp");
  pos += tsLength;
  if (pos < end && line.charCodeAt(pos) !== SPACE && line.charCodeAt(pos) !== TAB) return skip("no-timestamp");
  while (pos < end && (line.charCodeAt(pos) === SPACE || line.charCodeAt(pos) === TAB)) pos++;

  const typeStart = pos;
  while (pos < end && isKeyChar(line.charCodeAt(pos))) pos++;
  if (pos === typeStart || !isLetter(line.charCodeAt(typeStart))) return skip("no-type");
  if (pos < end && line.charCodeAt(pos) !== SPACE && line.charCodeAt(pos) !== TAB) return skip("no-type");
  const type = line.slice(typeStart, pos);

  const deferred = deferredKind(type);
  if (deferred !== undefined) {
    if (!quotesPaired(line, pos, end)) return skip("unterminated-quote");
    return { ok: true, entry: deferredEntry(deferred, type, at, line, pos, end) };
  }
  const fields: TrackingField[] = [];
  const words: string[] = [];
  if (!scanFields(line, pos, end, fields, words)) return skip("unterminated-quote");
  return typed(type, at, fields, words);
}

/**
 * The cheap check for entries decoded later: the quotes that are not escaped come in pairs (in
 * the grammar, quotes only ever enclose strings). Should a later decode still meet a quote that
 * is never closed, the entry keeps the fields before it.
 */
function quotesPaired(line: string, pos: number, end: number): boolean {
  let open = false;
  for (let at = line.indexOf('"', pos); at >= 0 && at < end; at = line.indexOf('"', at + 1)) {
    if (open && line.charCodeAt(at - 1) === BACKSLASH) continue;
    open = !open;
  }
  return !open;
}

function sameWord(a: string, b: string): boolean {
  return a === b || (a.length === b.length && a.toLowerCase() === b.toLowerCase());
}

type DeferredKind = "Access" | "Release" | "Denial" | "Other";

function deferredKind(type: string): DeferredKind | undefined {
  if (sameWord(type, "Access")) return "Access";
  if (sameWord(type, "Release")) return "Release";
  if (sameWord(type, "Denial")) return "Denial";
  for (const eager of ["Borrow", "License", "Admin", "SignedLogfile", "TmrLogfile"]) {
    if (sameWord(type, eager)) return undefined;
  }
  return "Other";
}

/** A decimal number (firm codes, product codes, quantities); null when absent or not one. */
function integer(value: string | null): number | null {
  if (value === null || value.length === 0 || value.length > 15) return null;
  let result = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return null;
    result = result * 10 + digit;
  }
  return result;
}

/** `never` → null; a timestamp → epoch ms; anything else → NaN. */
function expiry(value: string): number | null {
  return isNever(value) ? null : parseTimestamp(value);
}

function typed(type: string, at: number, fields: TrackingField[], words: string[]): LineResult {
  const get = (key: string) => fieldValue(fields, key);
  if (sameWord(type, "Borrow")) {
    const borrowId = get("BorrowId");
    const expires = get("Expires");
    if (borrowId === null || borrowId === "" || expires === null) return skip("missing-field");
    const expiresAt = expiry(expires);
    if (expiresAt !== null && Number.isNaN(expiresAt)) return skip("bad-value");
    const entry: BorrowEntry = {
      type: "Borrow",
      at,
      fields,
      words,
      server: get("Server"),
      licenseId: get("LicenseId"),
      borrowId,
      client: get("Client"),
      user: get("User"),
      expiresAt,
      borrowSn: get("BorrowSn"),
    };
    return { ok: true, entry };
  }
  if (sameWord(type, "License")) {
    const licenseId = get("LicenseId");
    if (licenseId === null || licenseId === "") return skip("missing-field");
    const et = get("ET");
    const expiration = et === null ? null : expiry(et);
    const entry: LicenseEntry = {
      type: "License",
      at,
      fields,
      words,
      server: get("Server"),
      licenseId,
      serial: get("SN"),
      firmCode: integer(get("FC")),
      productCode: integer(get("PC")),
      featureMap: get("FM"),
      expiration: expiration !== null && Number.isNaN(expiration) ? null : expiration,
      quantity: integer(get("LQ")),
      productText: get("PT"),
    };
    return { ok: true, entry };
  }
  if (sameWord(type, "Admin")) {
    const when = words[1] === undefined ? Number.NaN : parseTimestamp(words[1]);
    const entry: AdminEntry = {
      type: "Admin",
      at,
      fields,
      words,
      server: get("Server"),
      event: words[0] ?? null,
      eventAt: Number.isNaN(when) ? null : when,
    };
    return { ok: true, entry };
  }
  if (sameWord(type, "SignedLogfile")) {
    const entry: TrackingEntry = {
      type: "SignedLogfile",
      at,
      fields,
      words,
      firmCode: integer(get("FirmCode")),
      runtimeVersion: get("Runtime-Version"),
      logfileId: get("LogfileId"),
    };
    return { ok: true, entry };
  }
  const entry: TrackingEntry = {
    type: "TmrLogfile",
    at,
    fields,
    words,
    firmCode: integer(get("FirmCode")),
    runtimeVersion: get("Runtime-Version"),
  };
  return { ok: true, entry };
}

/** An entry whose fields are decoded on first use (the line was already checked whole). */
class DeferredFields {
  readonly at: number;
  readonly #line: string;
  readonly #start: number;
  readonly #end: number;
  #fields: TrackingField[] | undefined;
  #words: string[] | undefined;

  constructor(at: number, line: string, start: number, end: number) {
    this.at = at;
    this.#line = line;
    this.#start = start;
    this.#end = end;
  }

  get fields(): readonly TrackingField[] {
    this.#decode();
    return this.#fields as TrackingField[];
  }

  get words(): readonly string[] {
    this.#decode();
    return this.#words as string[];
  }

  protected field(key: string): string | null {
    return fieldValue(this.fields, key);
  }

  #decode(): void {
    if (this.#fields !== undefined) return;
    const fields: TrackingField[] = [];
    const words: string[] = [];
    scanFields(this.#line, this.#start, this.#end, fields, words);
    this.#fields = fields;
    this.#words = words;
  }

  /** As a plain object (JSON, test equality), with every decoded property. */
  toJSON(): Record<string, unknown> {
    const plain: Record<string, unknown> = {};
    for (
      let proto = Object.getPrototypeOf(this);
      proto !== null && proto !== Object.prototype;
      proto = Object.getPrototypeOf(proto)
    ) {
      for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
        if (descriptor.get !== undefined && !(name in plain))
          plain[name] = (this as unknown as Record<string, unknown>)[name];
      }
    }
    return { ...this, ...plain };
  }
}

class DeferredAccess extends DeferredFields implements AccessEntry {
  readonly type = "Access" as const;
  get server(): string | null {
    return this.field("Server");
  }
  get licenseId(): string | null {
    return this.field("LicenseId");
  }
  get accessId(): string | null {
    return this.field("AccessId");
  }
  get client(): string | null {
    return this.field("Client");
  }
  get user(): string | null {
    return this.field("User");
  }
  get appId(): string | null {
    return this.field("AppId");
  }
  get appText(): string | null {
    return this.field("AppText");
  }
}

class DeferredRelease extends DeferredFields implements ReleaseEntry {
  readonly type = "Release" as const;
  get server(): string | null {
    return this.field("Server");
  }
  get accessId(): string | null {
    return this.field("AccessId");
  }
}

class DeferredDenial extends DeferredFields implements DenialEntry {
  readonly type = "Denial" as const;
  get server(): string | null {
    return this.field("Server");
  }
  get licenseId(): string | null {
    return this.field("LicenseId");
  }
  get client(): string | null {
    return this.field("Client");
  }
  get user(): string | null {
    return this.field("User");
  }
  get appId(): string | null {
    return this.field("AppId");
  }
  get appText(): string | null {
    return this.field("AppText");
  }
}

class DeferredOther extends DeferredFields implements OtherEntry {
  readonly type = "Other" as const;
  readonly rawType: string;

  constructor(rawType: string, at: number, line: string, start: number, end: number) {
    super(at, line, start, end);
    this.rawType = rawType;
  }
}

function deferredEntry(
  kind: DeferredKind,
  type: string,
  at: number,
  line: string,
  start: number,
  end: number,
): TrackingEntry {
  switch (kind) {
    case "Access":
      return new DeferredAccess(at, line, start, end);
    case "Release":
      return new DeferredRelease(at, line, start, end);
    case "Denial":
      return new DeferredDenial(at, line, start, end);
    default:
      return new DeferredOther(type, at, line, start, end);
  }
}

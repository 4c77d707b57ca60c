import {
  type AdminEntry,
  type BorrowEntry,
  fieldValue,
  type LicenseEntry,
  type LineResult,
  type SkipReason,
  type TrackingEntry,
  type TrackingField,
} from "./entries.js";
import { isNever, parseTimestamp, parseTimestampAt, timestampLength } from "./timestamp.js";

/**
 * One line of the License Tracking log → a typed entry, or the reason it was skipped. Never
 * throws, whatever the input. The grammar: `<timestamp> <Type> <fields>`, fields `Key:value`
 * separated by `, `, string values in double quotes with `\"` for a quote inside; a few lines
 * (Admin) carry bare words after the fields. Hand-written scanning: this runs for every line of
 * logs that reach gigabytes.
 */

const SPACE = 32;
const TAB = 9;
const COMMA = 44;
const COLON = 58;
const QUOTE = 34;
const BACKSLASH = 92;

function isSeparator(code: number): boolean {
  return code === SPACE || code === COMMA || code === TAB;
}

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

function isKeyChar(code: number): boolean {
  return isLetter(code) || (code >= 48 && code <= 57) || code === 45 || code === 95;
}

const skip = (reason: SkipReason): LineResult => ({ ok: false, reason });

/** Parses `line` (no line terminator; a trailing `\r` is ignored). */
export function parseTrackingLine(line: string): LineResult {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 13 || line.charCodeAt(end - 1) === SPACE)) end--;
  let pos = 0;
  if (line.charCodeAt(0) === 0xfeff) pos = 1;
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

  const fields: TrackingField[] = [];
  const words: string[] = [];
  while (pos < end) {
    const code = line.charCodeAt(pos);
    if (isSeparator(code)) {
      pos++;
      continue;
    }
    // A key is a letter followed by letters, digits, '-' or '_', then ':'.
    let keyEnd = pos;
    if (isLetter(code)) {
      keyEnd++;
      while (keyEnd < end && isKeyChar(line.charCodeAt(keyEnd))) keyEnd++;
    }
    if (keyEnd > pos && keyEnd < end && line.charCodeAt(keyEnd) === COLON) {
      const key = line.slice(pos, keyEnd);
      pos = keyEnd + 1;
      if (pos < end && line.charCodeAt(pos) === QUOTE) {
        const closing = closingQuote(line, pos + 1, end);
        if (closing < 0) return skip("unterminated-quote");
        const inner = line.slice(pos + 1, closing);
        fields.push({ key, value: inner.includes('\\"') ? inner.replaceAll('\\"', '"') : inner, quoted: true });
        pos = closing + 1;
      } else {
        const valueStart = pos;
        while (pos < end && !isSeparator(line.charCodeAt(pos))) pos++;
        fields.push({ key, value: line.slice(valueStart, pos), quoted: false });
      }
      continue;
    }
    if (code === QUOTE) {
      const closing = closingQuote(line, pos + 1, end);
      if (closing < 0) return skip("unterminated-quote");
      words.push(line.slice(pos + 1, closing).replaceAll('\\"', '"'));
      pos = closing + 1;
      continue;
    }
    const wordStart = pos;
    while (pos < end && !isSeparator(line.charCodeAt(pos))) pos++;
    words.push(line.slice(wordStart, pos));
  }
  return typed(type, at, fields, words);
}

/** Index of the quote closing a string that starts at `from`, or -1. Only `\"` is an escape. */
function closingQuote(line: string, from: number, end: number): number {
  let at = line.indexOf('"', from);
  while (at >= 0 && at < end) {
    if (line.charCodeAt(at - 1) !== BACKSLASH || at - 1 < from) return at;
    at = line.indexOf('"', at + 1);
  }
  return -1;
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

function sameWord(a: string, b: string): boolean {
  return a === b || (a.length === b.length && a.toLowerCase() === b.toLowerCase());
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
    const event = words[0] ?? null;
    const when = words[1] === undefined ? Number.NaN : parseTimestamp(words[1]);
    const entry: AdminEntry = {
      type: "Admin",
      at,
      fields,
      words,
      server: get("Server"),
      event,
      eventAt: Number.isNaN(when) ? null : when,
    };
    return { ok: true, entry };
  }
  return { ok: true, entry: otherTyped(type, at, fields, words, get) };
}

function otherTyped(
  type: string,
  at: number,
  fields: TrackingField[],
  words: string[],
  get: (key: string) => string | null,
): TrackingEntry {
  if (sameWord(type, "Access")) {
    return {
      type: "Access",
      at,
      fields,
      words,
      server: get("Server"),
      licenseId: get("LicenseId"),
      accessId: get("AccessId"),
      client: get("Client"),
      user: get("User"),
      appId: get("AppId"),
      appText: get("AppText"),
    };
  }
  if (sameWord(type, "Release")) {
    return { type: "Release", at, fields, words, server: get("Server"), accessId: get("AccessId") };
  }
  if (sameWord(type, "Denial")) {
    return {
      type: "Denial",
      at,
      fields,
      words,
      server: get("Server"),
      licenseId: get("LicenseId"),
      client: get("Client"),
      user: get("User"),
      appId: get("AppId"),
      appText: get("AppText"),
    };
  }
  if (sameWord(type, "SignedLogfile")) {
    return {
      type: "SignedLogfile",
      at,
      fields,
      words,
      firmCode: integer(get("FirmCode")),
      runtimeVersion: get("Runtime-Version"),
      logfileId: get("LogfileId"),
    };
  }
  if (sameWord(type, "TmrLogfile")) {
    return {
      type: "TmrLogfile",
      at,
      fields,
      words,
      firmCode: integer(get("FirmCode")),
      runtimeVersion: get("Runtime-Version"),
    };
  }
  return { type: "Other", at, fields, words, rawType: type };
}

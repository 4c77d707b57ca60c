import { isAscii } from "node:buffer";

/**
 * Splits bytes read from a log into lines without ever holding more than one read buffer: a line
 * longer than `maxLineBytes` is skipped (and counted) while its bytes stream past, instead of
 * being collected. The caller reads the file from where the last complete line ended, so a line
 * that straddles two reads is simply read again whole the next time.
 *
 * The complete lines of a read are decoded as one string (one UTF-8 decode per read, not per
 * line); each line's length in bytes comes from the newline positions in the bytes, which match
 * the string's one for one (a newline byte is never part of a multi-byte sequence).
 */

export interface ScanState {
  /** True while inside a line already known to be too long: bytes are discarded up to its newline. */
  skipping: boolean;
}

export interface ScanResult {
  /** Bytes of the buffer that are done with: complete lines, and the discarded part of an oversized one. */
  consumed: number;
  skipping: boolean;
  lines: number;
  oversized: number;
}

const NEWLINE = 10;

/**
 * Calls `onLine` for every complete line in `bytes[0, length)` (without its `\n`; a `\r` before it
 * is the line parser's business). Decoded as UTF-8: invalid bytes become U+FFFD, never an error.
 */
export function scanLines(
  bytes: Buffer,
  length: number,
  state: ScanState,
  maxLineBytes: number,
  onLine: (line: string) => void,
): ScanResult {
  const view = length === bytes.length ? bytes : bytes.subarray(0, length);
  let start = 0;
  let skipping = state.skipping;
  let lines = 0;
  let oversized = 0;
  if (skipping) {
    const newline = view.indexOf(NEWLINE);
    if (newline < 0) return { consumed: length, skipping, lines, oversized };
    skipping = false;
    oversized++;
    start = newline + 1;
  }
  const last = view.lastIndexOf(NEWLINE);
  if (last >= start) {
    const complete = view.subarray(start, last + 1);
    // Plain ASCII (the usual log) decodes far cheaper, and then a byte is a character.
    const ascii = isAscii(complete);
    const text = complete.toString(ascii ? "ascii" : "utf8");
    let from = 0;
    // Where the bytes of line `syncedFrom` start: kept in step only when a line's byte length is in doubt.
    let byteFrom = start;
    let syncedFrom = 0;
    while (from < text.length) {
      const newline = text.indexOf("\n", from);
      const chars = newline - from;
      let tooLong: boolean;
      if (ascii || chars > maxLineBytes || chars * 3 <= maxLineBytes) {
        // A UTF-8 line has at least one byte and at most three per UTF-16 unit (U+FFFD included).
        tooLong = chars > maxLineBytes;
      } else {
        while (syncedFrom < from) {
          byteFrom = view.indexOf(NEWLINE, byteFrom) + 1;
          syncedFrom = text.indexOf("\n", syncedFrom) + 1;
        }
        tooLong = view.indexOf(NEWLINE, byteFrom) - byteFrom > maxLineBytes;
      }
      if (tooLong) {
        oversized++;
      } else {
        lines++;
        onLine(text.slice(from, newline));
      }
      from = newline + 1;
    }
    start = last + 1;
  }
  if (length - start > maxLineBytes) return { consumed: length, skipping: true, lines, oversized };
  return { consumed: start, skipping: false, lines, oversized };
}

/**
 * Splits bytes read from a log into lines without ever holding more than one read buffer: a line
 * longer than `maxLineBytes` is skipped (and counted) while its bytes stream past, instead of
 * being collected. The caller reads the file from where the last complete line ended, so a line
 * that straddles two reads is simply read again whole the next time.
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
  for (let newline = view.indexOf(NEWLINE, 0); newline >= 0; newline = view.indexOf(NEWLINE, start)) {
    if (skipping) {
      skipping = false;
      oversized++;
    } else if (newline - start > maxLineBytes) {
      oversized++;
    } else {
      lines++;
      onLine(view.toString("utf8", start, newline));
    }
    start = newline + 1;
  }
  if (skipping) return { consumed: length, skipping, lines, oversized };
  if (length - start > maxLineBytes) return { consumed: length, skipping: true, lines, oversized };
  return { consumed: start, skipping: false, lines, oversized };
}

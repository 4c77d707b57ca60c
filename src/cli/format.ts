import type { KeyView } from "../bridge/api.js";
import { formatDuration } from "../config/duration.js";
import { safe } from "./safe-text.js";

/** Left-aligned columns with two spaces between them; a header row first. Every cell is made safe. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(safe))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `2026-12-27 21:43` in local time. */
export function localTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** `in 29 d` or `3 h ago`, rounded to the unit shown. */
export function relative(iso: string, now = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "";
  const delta = at - now;
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

/** `2026-12-27 21:43 (in 29 d)`. */
export function when(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return "-";
  return `${localTime(iso)} (${relative(iso, now)})`;
}

/**
 * "Now" for relative times. A borrow's times are in its key's clock, which runs apart from this
 * machine's when either was moved (and in virtual mode after `virtual clock`): measured against the
 * wrong clock an expired borrow would read "in 29 d". Maintenance times are in the server's clock.
 */
export interface Clocks {
  /** Now in the clock of key `serial`; the server's clock when the key's is unknown or no serial is given. */
  now(serial?: string): number;
}

export const SERVER_CLOCK: Clocks = { now: () => Date.now() };

/** Each attached key's clock, from the `keyTime` of the daemon's key views (received just now). */
export function keyClocks(keys: readonly KeyView[], receivedAt = Date.now()): Clocks {
  const offsets = new Map<string, number>();
  for (const key of keys) {
    const keyTime = key.keyTime === undefined ? Number.NaN : Date.parse(key.keyTime);
    if (!Number.isNaN(keyTime)) offsets.set(key.serial, keyTime - receivedAt);
  }
  return { now: (serial) => Date.now() + (serial === undefined ? 0 : (offsets.get(serial) ?? 0)) };
}

const ISO_TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})\b/g;

/**
 * A sentence the daemon wrote (a summary, a risk, a reason), shown as the tables show times: its
 * ISO timestamps become local `2026-12-27 21:43`, and it is made safe for the terminal.
 */
export function prose(text: string): string {
  return safe(text.replace(ISO_TIME, (iso) => localTime(iso)));
}

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

/** `in 29 d` or `3 h ago`. */
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

import { DurationInvalidError } from "./errors.js";

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/;

/** Parses `31d`, `2h`, `15m`, `90s`, `500ms` or a plain number of milliseconds into milliseconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (match === null) throw new DurationInvalidError(text);
  const value = Number(match[1]) * (UNIT_MS[match[2] ?? "ms"] ?? 1);
  if (!Number.isFinite(value)) throw new DurationInvalidError(text);
  return Math.round(value);
}

/**
 * The coarsest unit that keeps two significant parts readable: `29 d`, `1 d 4 h`, `5 h 3 m`, `42 s`.
 * Rounded to the nearest of its last unit, not cut: a borrow of 7 days seen a moment after it was
 * made is `7 d`, not `6 d`.
 */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  const seconds = Math.round(abs / 1_000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(abs / 60_000);
  if (minutes < 60) return `${minutes} m`;
  if (minutes < 24 * 60) {
    const m = minutes % 60;
    return m > 0 ? `${Math.floor(minutes / 60)} h ${m} m` : `${minutes / 60} h`;
  }
  const hours = Math.round(abs / 3_600_000);
  if (hours < 48) return hours > 24 ? `1 d ${hours - 24} h` : "1 d";
  return `${Math.round(abs / 86_400_000)} d`;
}

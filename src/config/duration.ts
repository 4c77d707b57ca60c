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

/** The coarsest unit that keeps two significant parts readable: `29 d`, `5 h 3 m`, `42 s`. */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  const d = Math.floor(abs / 86_400_000);
  const h = Math.floor((abs % 86_400_000) / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const s = Math.floor((abs % 60_000) / 1_000);
  if (d >= 2) return `${d} d`;
  if (d === 1) return h > 0 ? `1 d ${h} h` : "1 d";
  if (h > 0) return m > 0 ? `${h} h ${m} m` : `${h} h`;
  if (m > 0) return `${m} m`;
  return `${s} s`;
}

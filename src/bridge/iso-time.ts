import { DAY_MS } from "../vocabulary/index.js";

/** 9999-12-31T23:59:59.999Z: past it (and before 0000) toISOString writes six-digit years. */
const LAST_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;
const FIRST_FOUR_DIGIT_YEAR_MS = -62_167_219_200_000;
/** Distinct days seen; bounded so a long-running daemon does not grow it. */
const MAX_CACHED_DAYS = 4096;

const dayPrefixes = new Map<number, string>();

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function pad3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}

/** "YYYY-MM-DDT" of a day number since the epoch, from toISOString once per day. */
function dayPrefix(day: number): string {
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    if (dayPrefixes.size >= MAX_CACHED_DAYS) dayPrefixes.clear();
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    dayPrefixes.set(day, prefix);
  }
  return prefix;
}

/**
 * `new Date(ms).toISOString()`, without a Date per call: the outstanding-borrow index formats two or
 * three times per borrow when it loads, 300 000 dates with 100 000 borrows. Borrows fall on few
 * days, so the date part comes from a small cache and only the time of day is computed.
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < FIRST_FOUR_DIGIT_YEAR_MS || ms > LAST_FOUR_DIGIT_YEAR_MS) {
    return new Date(ms).toISOString();
  }
  const day = Math.floor(ms / DAY_MS);
  let rest = ms - day * DAY_MS;
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  return `${dayPrefix(day)}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${pad3(millis)}Z`;
}

/**
 * CodeMeter's License Tracking timestamps: UTC, either `2012-12-24T08:32:59` or, as one help page
 * writes them, `2012-12-24-083259`. Parsed by hand (no Date parsing of local time, no regular
 * expression per line): the log parser calls this for every line.
 */

import { DAY_MS } from "../../vocabulary/index.js";

function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const code = text.charCodeAt(i) - 48;
    if (code < 0 || code > 9) return -1;
    value = value * 10 + code;
  }
  return value;
}

function twoDigits(text: string, at: number): number {
  const tens = text.charCodeAt(at) - 48;
  const ones = text.charCodeAt(at + 1) - 48;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (days-from-civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Length of the timestamp at `start` (19 for `…T08:32:59`, 17 for `…-083259`), 0 when there is none. */
export function timestampLength(text: string, start = 0): number {
  if (text.length - start < 17) return 0;
  if (text.charCodeAt(start + 4) !== 45 || text.charCodeAt(start + 7) !== 45) return 0;
  const separator = text.charCodeAt(start + 10);
  if (separator === 84 /* T */ && text.length - start >= 19) {
    return text.charCodeAt(start + 13) === 58 && text.charCodeAt(start + 16) === 58 ? 19 : 0;
  }
  return separator === 45 /* - */ ? 17 : 0;
}

/**
 * The last date seen and its day in epoch ms: consecutive log lines share their date, so its
 * digits are checked and converted once per day of log rather than once per line.
 */
let cachedDate = "";
let cachedDayMs = 0;

/** Epoch milliseconds of the timestamp at `start`, or NaN when it is not one (or not a real date). */
export function parseTimestampAt(text: string, start = 0): number {
  const length = timestampLength(text, start);
  if (length === 0) return Number.NaN;
  let dayMs: number;
  if (cachedDate !== "" && text.startsWith(cachedDate, start)) {
    dayMs = cachedDayMs;
  } else {
    const year = digits(text, start, 4);
    const month = digits(text, start + 5, 2);
    const day = digits(text, start + 8, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
    dayMs = daysFromCivil(year, month, day) * DAY_MS;
    cachedDate = text.slice(start, start + 10);
    cachedDayMs = dayMs;
  }
  const long = length === 19;
  const hour = twoDigits(text, start + 11);
  const minute = twoDigits(text, start + (long ? 14 : 13));
  const second = twoDigits(text, start + (long ? 17 : 15));
  if (hour < 0 || minute < 0 || second < 0 || hour > 23 || minute > 59 || second > 60) return Number.NaN;
  return dayMs + ((hour * 60 + minute) * 60 + second) * 1000;
}

/** A whole value that is exactly one timestamp. */
export function parseTimestamp(text: string): number {
  const length = timestampLength(text);
  return length !== 0 && length === text.length ? parseTimestampAt(text) : Number.NaN;
}

/** `never` (any case) is no expiry. */
export function isNever(text: string): boolean {
  return text.length === 5 && text.toLowerCase() === "never";
}

/** `2012-12-24T08:32:59`, the form the runtime writes today (seconds precision, UTC). */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** ISO 8601 with the zone, for views and JSON. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

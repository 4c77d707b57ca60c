import { DAY_MS } from "../vocabulary/index.js";

/** 9999-12-31T23:59:59.999Z: beyond it toISOString changes format, so the Date path takes over. */
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;

function pad2(n: number): string {
  return n < 10 ? "0" + n : "" + n;
}

/** "HH:MM UTC" for each minute of the day, built on first use and shared by every call. */
let minuteTexts: string[] | undefined;
/** "YYYY-MM-DD " per day number: a report's dates fall on few distinct days. Bounded, so a long-running process does not grow it. */
const dayTexts = new Map<number, string>();
const MAX_CACHED_DAYS = 4096;

function minuteText(minuteOfDay: number): string {
  if (minuteTexts === undefined) {
    minuteTexts = new Array<string>(1440);
    for (let m = 0; m < 1440; m++) minuteTexts[m] = `${pad2(Math.floor(m / 60))}:${pad2(m % 60)} UTC`;
  }
  return minuteTexts[minuteOfDay]!;
}

function dayText(days: number): string {
  let text = dayTexts.get(days);
  if (text === undefined) {
    if (dayTexts.size >= MAX_CACHED_DAYS) dayTexts.clear();
    text = civilDate(days);
    dayTexts.set(days, text);
  }
  return text;
}

/** "YYYY-MM-DD " of a day number since the epoch (civil-from-days, proleptic Gregorian). */
function civilDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yyyy = year < 1000 ? String(year).padStart(4, "0") : "" + year;
  return `${yyyy}-${pad2(month)}-${pad2(day)} `;
}

/**
 * Dates in findings and preflight texts: UTC, minute precision, unambiguous for any locale, e.g.
 * "2025-01-31 12:00 UTC". Computed arithmetically (civil-from-days) rather than through a Date
 * object, because reconcile formats thousands of them per run; the day and minute parts are
 * reused, so a date costs one string instead of a dozen short-lived ones the garbage collector
 * must copy when it runs in the middle of a large report.
 */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "an unknown date";
  if (ms < 0 || ms > MAX_FOUR_DIGIT_YEAR_MS) {
    const iso = new Date(ms).toISOString();
    return `${iso.slice(0, -14)} ${iso.slice(-13, -8)} UTC`;
  }
  const days = Math.floor(ms / DAY_MS);
  return dayText(days) + minuteText(Math.floor((ms - days * DAY_MS) / 60_000));
}

export interface BorrowLike {
  id: number;
  product: number;
  client: string;
  expiresAt: number;
}

/**
 * "borrow 42 of product 1001 by client "ws-17" on key K-1 (expires 2025-01-31 12:00 UTC)"; `first`
 * "Borrow" starts a sentence without re-copying the text as `capitalize` would.
 */
export function describeBorrow(serial: string, b: BorrowLike, first: "borrow" | "Borrow" = "borrow"): string {
  return `${first} ${b.id} of product ${b.product} by client "${b.client}" on key ${serial} (expires ${formatTime(b.expiresAt)})`;
}

export function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

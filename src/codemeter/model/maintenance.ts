import { formatTime } from "../../reconcile/index.js";
import type { BorrowBook } from "./borrow-book.js";
import { describeCodeMeterBorrows, lastEnd, plural } from "./describe.js";
import { borrowRef, type CodeMeterBorrowRef } from "./preflight.js";
import { borrowsEndingAfter, maximumBorrowMinutes } from "./risks.js";
import { isoOf } from "./timestamp.js";

/**
 * Maintenance advice for CodeMeter borrows. keybridge cannot shorten a CodeMeter borrow; what an
 * administrator can do is cap new ones with WebAdmin's "Maximum Borrow Duration". A borrow made now
 * with the cap computed here ends before the window; one made later with the same cap would end
 * after it, so the cap must come down as the window nears (this advice gives the figure of the
 * moment). Borrows already out are listed when they end after the window starts. Pure.
 */

export interface CodeMeterMaintenanceAdvice {
  readonly window: { readonly at: string; readonly until: string | null };
  /** The setting for a borrow made now to end by the window; null once the window has begun. */
  readonly maximumBorrowDurationMinutes: number | null;
  /** The setting in words, ready to follow. */
  readonly setting: string;
  readonly borrowsEndingAfter: readonly CodeMeterBorrowRef[];
  /** True when no CodeMeter borrow out now ends after the window starts. */
  readonly clear: boolean;
  readonly summary: string;
}

export function maintenanceAdvice(
  window: { readonly at: number; readonly until?: number | null },
  book: BorrowBook,
  now: number,
): CodeMeterMaintenanceAdvice {
  const minutes = maximumBorrowMinutes(window.at, now);
  const setting =
    minutes === null
      ? `The window has begun (${formatTime(window.at)}): no new borrow can end before it. Turn borrowing off in CodeMeter WebAdmin until the window is over.`
      : `In CodeMeter WebAdmin, set "Maximum Borrow Duration" to ${minutes} minutes now: a borrow made now then ends by ${formatTime(window.at)}. A borrow made later with the same setting would end after it, so lower the setting as the window nears (ask again for the figure of the moment), or turn borrowing off on the day.`;
  const after = borrowsEndingAfter(book.outstanding(now), window.at);
  const last = lastEnd(after);
  const summary =
    after.length === 0
      ? `No CodeMeter borrow out now ends after ${formatTime(window.at)}.`
      : `${plural(after.length, "CodeMeter borrow")} out now ${after.length === 1 ? "ends" : "end"} after ${formatTime(window.at)}: ${describeCodeMeterBorrows(after)}; ask for ${after.length === 1 ? "it" : "them"} back, or start the window ${last === null ? "only once they are returned (one never expires)" : `after ${formatTime(last)}`}.`;
  return {
    window: {
      at: isoOf(window.at),
      until: window.until === undefined || window.until === null ? null : isoOf(window.until),
    },
    maximumBorrowDurationMinutes: minutes,
    setting,
    borrowsEndingAfter: after.map(borrowRef),
    clear: after.length === 0,
    summary,
  };
}

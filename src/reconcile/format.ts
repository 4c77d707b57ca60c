/**
 * Dates in findings, risks and preflight texts: UTC, minute precision, unambiguous for any
 * locale, e.g. "2025-01-31 12:00 UTC".
 */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "an unknown date";
  const iso = new Date(ms).toISOString();
  // The date and the hours and minutes; a year beyond 9999 has more digits, so cut from the end.
  return `${iso.slice(0, -14)} ${iso.slice(-13, -8)} UTC`;
}

export interface BorrowLike {
  id: number;
  product: number;
  client: string;
  expiresAt: number;
}

/**
 * "borrow 42 of product 1001 by client "ws-17" on key K-1 (expires 2025-01-31 12:00 UTC)"; with
 * `first` "Borrow" it starts a sentence.
 */
export function describeBorrow(serial: string, b: BorrowLike, first: "borrow" | "Borrow" = "borrow"): string {
  return `${first} ${b.id} of product ${b.product} by client "${b.client}" on key ${serial} (expires ${formatTime(b.expiresAt)})`;
}

export function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

/** Dates in findings and preflight texts: UTC, minute precision, unambiguous for any locale. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "an unknown date";
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

export interface BorrowLike {
  id: number;
  product: number;
  client: string;
  expiresAt: number;
}

/** "borrow 42 of product 1001 by client "ws-17" on key K-1 (expires 2025-01-31 12:00 UTC)". */
export function describeBorrow(serial: string, b: BorrowLike): string {
  return `borrow ${b.id} of product ${b.product} by client "${b.client}" on key ${serial} (expires ${formatTime(b.expiresAt)})`;
}

export function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

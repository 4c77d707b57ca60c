/**
 * A borrow as every layer above the protocol names it: its states, which of them still hold
 * something on the key, and the one string that identifies it (borrow ids are per key).
 */

export const BORROW_STATES = ["active", "returning", "returned", "settled", "rolled-back", "dummy"] as const;
export type BorrowState = (typeof BORROW_STATES)[number];

/**
 * States whose borrow still occupies something on the key (or may, until settled): a client
 * holds it (`active`), a return or settle has begun and not been confirmed (`returning`), or
 * the key turned it into a dummy that blocks the product until it clears (`dummy`).
 */
export const OUTSTANDING_STATES: readonly BorrowState[] = ["active", "returning", "dummy"];

export function isOutstanding(state: BorrowState): boolean {
  return OUTSTANDING_STATES.includes(state);
}

/**
 * The string that names one borrow among all keys: ids are counted per key, so the serial is
 * part of it. The id is written in decimal after the last "/", so two borrows never share a
 * string whatever characters their serials hold.
 */
export function borrowKey(serial: string, id: number): string {
  return `${serial}/${id}`;
}

/**
 * A borrow as the ledger records it: what reconcile compares with the key and the registry, and
 * the core of the ledger's own row. Ids are JS numbers (u64 borrow ids below 2^53), times epoch
 * milliseconds, products u32 numbers; binding, tag and opId are lower-case hex strings.
 */
export interface LedgerBorrow {
  serial: string;
  id: number;
  opId: string;
  product: number;
  client: string;
  issuedAt: number;
  expiresAt: number;
  binding: string;
  tag: string;
  state: BorrowState;
  /** When a dummy clears (K5); null or absent for any other state. */
  dummyUntil?: number | null;
}

/**
 * A borrow as its registry entry states it: the ledger's borrow without opId and state, which
 * the entry does not carry. Reconcile compares it with the ledger; the registry layer writes and
 * parses it.
 */
export interface RegistryBorrow {
  serial: string;
  id: number;
  product: number;
  client: string;
  issuedAt: number;
  expiresAt: number;
  binding: string;
  tag: string;
}

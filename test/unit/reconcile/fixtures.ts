import type { KeyBorrow, KeyView, LedgerBorrow, ReconcileInput, RegistryBorrow } from "../../../src/reconcile/index.js";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const NOW = Date.UTC(2025, 0, 15, 12, 0);
export const HOST = "aa".repeat(32);
export const OTHER_HOST = "bb".repeat(32);
export const SERIAL = "K-1";

export function opIdOf(id: number): string {
  return id.toString(16).padStart(32, "0");
}

export function tagOf(id: number): string {
  return (id * 7 + 3).toString(16).padStart(32, "f");
}

export function keyBorrow(id: number, over: Partial<KeyBorrow> = {}): KeyBorrow {
  return {
    id,
    product: 1001,
    client: `ws-${id}`,
    issuedAt: NOW - 5 * DAY,
    expiresAt: NOW + 25 * DAY,
    binding: HOST,
    opId: opIdOf(id),
    state: "active",
    ...over,
  };
}

export function registryOf(k: KeyBorrow, over: Partial<RegistryBorrow> = {}, serial = SERIAL): RegistryBorrow {
  const { id, product, client, issuedAt, expiresAt, binding } = k;
  return { serial, id, product, client, issuedAt, expiresAt, binding, tag: tagOf(id), ...over };
}

export function ledgerOf(k: KeyBorrow, over: Partial<LedgerBorrow> = {}, serial = SERIAL): LedgerBorrow {
  const { id, opId, product, client, issuedAt, expiresAt, binding } = k;
  return { serial, id, opId, product, client, issuedAt, expiresAt, binding, tag: tagOf(id), state: "active", ...over };
}

export function keyView(borrows: KeyBorrow[] | undefined, over: Partial<KeyView> = {}): KeyView {
  return { serial: SERIAL, present: borrows !== undefined, borrows, settleWindowMs: DAY, ...over };
}

/** A world where every view holds the given key borrows consistently; override pieces per test. */
export function consistent(borrows: KeyBorrow[], over: Partial<ReconcileInput> = {}): ReconcileInput {
  return {
    keys: [keyView(borrows)],
    registry: { readable: true, borrows: borrows.filter((b) => b.state === "active").map((b) => registryOf(b)) },
    ledger: borrows.map((b) =>
      ledgerOf(b, b.state === "dummy" ? { state: "dummy", dummyUntil: b.dummyUntil ?? null } : {}),
    ),
    host: { binding: HOST },
    now: NOW,
    ...over,
  };
}

import type { KeyView, RegistryView } from "./types.js";

/**
 * The borrows whose closed ledger rows (returned, settled, rolled back) reconcile can use: those a
 * key or the registry still lists. A closed row nothing else names yields no finding, so a caller
 * with years of history hands reconcile every outstanding row and only these closed ones.
 * Returns `serial` → ids.
 */
export function historyNeeded(keys: readonly KeyView[], registry: RegistryView): Map<string, Set<number>> {
  const named = new Map<string, Set<number>>();
  const add = (serial: string, id: number) => {
    let ids = named.get(serial);
    if (ids === undefined) {
      ids = new Set();
      named.set(serial, ids);
    }
    ids.add(id);
  };
  for (const key of keys) for (const borrow of key.borrows ?? []) add(key.serial, borrow.id);
  if (registry.readable) for (const entry of registry.borrows) add(entry.serial, entry.id);
  return named;
}

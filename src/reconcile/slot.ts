import type { DummyInfo, Finding, KeyBorrow, LedgerBorrow, RegistryBorrow } from "./types.js";

/** One borrow identity (serial/id) as seen by each view. */
export interface Slot {
  serial: string;
  id: number;
  key: KeyBorrow | undefined;
  reg: RegistryBorrow | undefined;
  /** The ledger row while outstanding (active, returning, dummy). */
  led: LedgerBorrow | undefined;
  /** A settled, returned or rolled-back ledger row. */
  hist: LedgerBorrow | undefined;
}

/** What the classifiers need besides the slot, and where they put what they find. */
export interface ClassifyContext {
  hostBinding: string;
  keyMoved: (serial: string) => boolean;
  registryReadable: boolean;
  now: number;
  tagDerivable: boolean;
  derivedTags: Record<string, string> | undefined;
  /** The findings of the slot being classified; empty for a healthy borrow. */
  out: Finding[];
  dummies: DummyInfo[];
}

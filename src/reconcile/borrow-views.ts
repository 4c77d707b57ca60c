import type { DummyInfo, Finding, KeyBorrow, LedgerBorrow, RegistryBorrow } from "./types.js";

/** One borrow (serial and id) as each view sees it; a view that does not list it leaves its field undefined. */
export interface BorrowViews {
  serial: string;
  id: number;
  key: KeyBorrow | undefined;
  reg: RegistryBorrow | undefined;
  /** The ledger row while outstanding (active, returning, dummy). */
  led: LedgerBorrow | undefined;
  /** A settled, returned or rolled-back ledger row. */
  hist: LedgerBorrow | undefined;
}

/** A classifier's verdict on one borrow: no finding means healthy; `dummy` when it blocks its product. */
export interface Classified {
  findings: Finding[];
  dummy?: DummyInfo;
}

/** What the classifiers need besides the borrow: the same for every borrow of one reconcile. */
export interface ClassifyContext {
  hostBinding: string;
  keyMoved: (serial: string) => boolean;
  registryReadable: boolean;
  now: number;
  tagDerivable: boolean;
  derivedTags: Record<string, string> | undefined;
}

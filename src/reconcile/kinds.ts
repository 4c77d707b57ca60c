import type { FindingKind } from "./types.js";

export interface KindDescription {
  kind: FindingKind;
  title: string;
  /** What the finding means, for someone who has never heard of borrow dummies. */
  meaning: string;
  /** What keybridge does about it and what the admin should do. */
  whatToDo: string;
}

const DESCRIPTIONS: Record<FindingKind, Omit<KindDescription, "kind">> = {
  healthy: {
    title: "Healthy borrow",
    meaning: "The key, the registry and the ledger agree on this borrow, and it is bound to this computer.",
    whatToDo: "Nothing. The borrow can be returned early or settled at expiry without creating a dummy.",
  },
  "registry-missing": {
    title: "Registry entry missing",
    meaning:
      "The key and the ledger hold the borrow but the OS registry does not (or the registry cannot be read). " +
      "A server that relied on the registry alone would create a borrow dummy at return or expiry.",
    whatToDo: "`keybridge reconcile --repair` rewrites the entry from the ledger. Safe to apply.",
  },
  "registry-changed": {
    title: "Registry entry differs",
    meaning: "The registry entry of the borrow has other fields (product, client, dates or binding) than the key.",
    whatToDo: "`keybridge reconcile --repair` rewrites the entry from the key and the ledger. Safe to apply.",
  },
  "registry-extra": {
    title: "Stale registry entry",
    meaning: "The registry lists a borrow that the key does not hold any more and the ledger does not know.",
    whatToDo:
      "When the key is present and confirms it has no such record, `reconcile --repair` removes the entry. " +
      "While the key is absent nothing is removed.",
  },
  "ledger-missing": {
    title: "Ledger row missing",
    meaning:
      "The key holds a borrow the ledger does not know. The ledger row is rebuilt from the key and the registry; " +
      "if the registry lost it too, the borrow's tag is recoverable only when tags are derived from the server secret.",
    whatToDo:
      "`reconcile --repair` rebuilds the row when the tag is known. When the tag is lost for good the borrow " +
      "will become a dummy at return or expiry; plan for the product to be blocked for one borrow period.",
  },
  "ledger-changed": {
    title: "Ledger row differs from the key",
    meaning: "The ledger row of the borrow has other fields (product, client, dates, binding or opId) than the key.",
    whatToDo: "`reconcile --repair` rewrites the row from the key, keeping the ledger's tag. Safe to apply.",
  },
  "ledger-orphan": {
    title: "Ledger row already settled",
    meaning: "The ledger says the borrow is outstanding but the key has no record of it: the key already settled it.",
    whatToDo: "`reconcile --repair` marks the row settled. Safe to apply; no seat changes.",
  },
  "binding-mismatch": {
    title: "Borrow bound to another host identity",
    meaning:
      "The borrow was made while this server had another identity (IP address, hostname or machine id), or on " +
      "another computer the key was moved from. Returning or settling it now would create a dummy.",
    whatToDo:
      "Run `keybridge migrate`: it rebinds the borrow to this host with the proof held in the ledger. " +
      "Safe to apply when the ledger holds the borrow's tag.",
  },
  "expired-unsettled": {
    title: "Expired, not yet settled",
    meaning:
      "The borrow period is over and the key is waiting for the server to settle it. If the key's settle window " +
      "ends first, the key turns the borrow into a dummy.",
    whatToDo:
      "`reconcile --repair` settles it now when the binding matches this host. If the host changed, run " +
      "`keybridge migrate` first.",
  },
  "tag-mismatch": {
    title: "Registry tag differs from the ledger",
    meaning:
      "The registry holds another tag for the borrow than the ledger. Settling with a wrong tag creates a dummy; " +
      "keybridge always settles with the ledger's tag.",
    whatToDo: "`reconcile --repair` rewrites the registry entry from the ledger. Safe to apply.",
  },
  dummy: {
    title: "Borrow dummy",
    meaning:
      "The key holds a borrow dummy: a borrow that could not be settled. While it exists the key refuses every " +
      "borrow of that product, even with free seats.",
    whatToDo: "Nothing can be done: the key clears the dummy by itself at its clear date. Borrowing resumes then.",
  },
  "key-absent": {
    title: "Key absent",
    meaning:
      "Borrows are outstanding on a key that is not plugged in (or cannot be read). They cannot be returned or " +
      "settled until the key is back, and an expired one becomes a dummy when its settle window ends.",
    whatToDo:
      "Plug the key back into this computer. If it must move to another computer, use `ledger export`, then `migrate` there.",
  },
};

export function describeKind(kind: FindingKind): KindDescription {
  return { kind, ...DESCRIPTIONS[kind] };
}

/**
 * Tie-break when choosing a borrow's primary finding among findings of equal severity: the state
 * of the key record first, then the ledger, then the registry mirror.
 */
export const KIND_PRIORITY: Record<FindingKind, number> = {
  dummy: 0,
  "key-absent": 1,
  "binding-mismatch": 2,
  "expired-unsettled": 3,
  "ledger-missing": 4,
  "ledger-orphan": 5,
  "ledger-changed": 6,
  "tag-mismatch": 7,
  "registry-changed": 8,
  "registry-missing": 9,
  "registry-extra": 10,
  healthy: 11,
};

/**
 * The closed word lists of the API. Plain constants, no schema library: the library entry
 * exports BRIDGE_EVENT_TYPES, and loading it must not load TypeBox.
 */

/** Every kind of event the bridge publishes, in the order the documentation lists them. */
export const BRIDGE_EVENT_TYPES = [
  "borrow.created",
  "borrow.returned",
  "borrow.settled",
  "borrow.dummy",
  "key.attached",
  "key.detached",
  "key.moved",
  "key.counterfeit",
  "host.changed",
  "clock.jump",
  "risk.raised",
  "risk.cleared",
  "registry.repaired",
  "ledger.rebuilt",
  "migration.done",
  "license.updated",
  "reconcile.repaired",
  "maintenance.planned",
  "maintenance.cancelled",
  "codemeter.borrow.seen",
  "codemeter.borrow.relisted",
  "codemeter.borrow.missing",
  "codemeter.borrow.gone",
] as const;

/** Every kind of risk the bridge raises: one list, in the vocabulary. */
export { RISK_KINDS } from "../../vocabulary/index.js";

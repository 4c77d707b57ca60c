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
] as const;

/** Every kind of risk the bridge raises. */
export const RISK_KINDS = [
  "key-unplugged",
  "key-moved",
  "key-counterfeit",
  "host-ip-changed",
  "host-hostname-changed",
  "host-machine-id-changed",
  "os-reinstalled",
  "driver-removed",
  "driver-changed",
  "registry-lost",
  "registry-corrupt",
  "ledger-rebuilt",
  "clock-jump",
  "borrow-expiring-unsettled",
  "license-update-pending",
  "maintenance-blocked",
  "tag-unknown",
  "ledger-unwritable",
  "ledger-lost",
] as const;

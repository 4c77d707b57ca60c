/**
 * The words every layer above the protocol uses for the same things: a borrow's states and key,
 * its ledger row, severities, and the protocol's units and limits that the layers check against.
 * Pure data and functions of it, no I/O: the ledger, reconcile, the bridge, the server and the
 * CLI all import it, so a word is defined once and means one thing.
 */

export {
  DAY_MS,
  DEFAULT_SETTLE_WINDOW_MS,
  MAX_BORROW_DAYS,
  MAX_CLIENT_BYTES,
  MAX_LICENSES,
  MAX_PRODUCT,
  MAX_SEATS,
} from "../protocol/constants.js";
export {
  BORROW_STATES,
  type BorrowState,
  borrowKey,
  isOutstanding,
  type LedgerBorrow,
  OUTSTANDING_STATES,
  type RegistryBorrow,
} from "./borrow.js";
export {
  BORROW_SOURCES,
  type BorrowSource,
  CODEMETER_ONLY_RISK_KINDS,
  RISK_KINDS,
  RISK_SEVERITY,
  type RiskKind,
} from "./risk.js";
export { SEVERITIES, SEVERITY_RANK, type Severity } from "./severity.js";

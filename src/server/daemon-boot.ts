/**
 * What `serve` starts before it loads the daemon's modules, kept in a module of its own so that
 * loading it costs nothing: the ledger's quick_check on a worker thread (see src/bridge/ledger-check.ts).
 */
export { startLedgerCheck } from "../bridge/ledger-check.js";

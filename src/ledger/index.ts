export type {
  CodeMeterAuditRecord,
  CodeMeterBorrowRecord,
  CodeMeterLicenseRecord,
  CodeMeterObservationLedger,
  CodeMeterObservationRows,
  CodeMeterObservationWrite,
} from "./codemeter-observations.js";
export * from "./errors.js";
export { GroupCommitter } from "./group-commit.js";
export type { IntegrityMode } from "./integrity.js";
export { Ledger, TAG_CONTEXT } from "./ledger.js";
export { mapLedgerError } from "./map-error.js";
export {
  DEFAULT_FILE_NAME,
  type OpenLedgerOptions,
  openLedger,
  type QuarantineOptions,
  quarantineAndCreate,
} from "./open.js";
export { SCHEMA_VERSION } from "./schema.js";
export { EXPORT_FORMAT, EXPORT_VERSION, type ExportBody, readExport } from "./transfer.js";
export * from "./types.js";
export { verifyLedgerIn } from "./verify.js";

/** The ledger's file in its directory; a leaf module, so the daemon can name the file before loading SQLite. */
export const DEFAULT_FILE_NAME = "ledger.db";

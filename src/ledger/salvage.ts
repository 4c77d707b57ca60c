import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { layerLogger } from "../log.js";
import { keyChecksum, metaChecksum } from "./rows.js";

const log = layerLogger("ledger");
const HEX32 = /^[0-9a-f]{64}$/;

export interface Salvaged {
  secret: Buffer | undefined;
  keys: { serial: string; publicKey: string; firstSeen: number }[];
  /** What could not be read, for the audit entry: damage is reported, never hidden. */
  problems: string[];
}

/** Reads what still verifies from a damaged ledger: only checksum-valid values are returned. */
export function salvage(file: string): Salvaged {
  const result: Salvaged = { secret: undefined, keys: [], problems: [] };
  if (!existsSync(file)) return result;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    result.secret = readSecret(db, result.problems);
    result.keys = readKeys(db, result.problems);
  } catch (error) {
    result.problems.push(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    db?.close();
  }
  if (result.problems.length > 0) log.warn("ledger salvage incomplete", { file, problems: result.problems });
  return result;
}

function readSecret(db: Database.Database, problems: string[]): Buffer | undefined {
  try {
    const row = db.prepare("SELECT value, checksum FROM meta WHERE key = 'server_secret'").get() as
      | { value: string; checksum: string }
      | undefined;
    if (row === undefined) return undefined;
    if (!HEX32.test(row.value) || metaChecksum("server_secret", row.value) !== row.checksum) {
      problems.push("server secret fails its checksum");
      return undefined;
    }
    return Buffer.from(row.value, "hex");
  } catch (error) {
    problems.push(`server secret unreadable: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

function readKeys(db: Database.Database, problems: string[]): Salvaged["keys"] {
  try {
    const rows = db
      .prepare("SELECT serial, public_key AS publicKey, first_seen AS firstSeen, checksum FROM keys")
      .all() as { serial: string; publicKey: unknown; firstSeen: number; checksum: string }[];
    const good: Salvaged["keys"] = [];
    for (const row of rows) {
      const publicKey = Buffer.isBuffer(row.publicKey) ? row.publicKey.toString("hex") : "";
      if (keyChecksum(row.serial, publicKey, row.firstSeen) === row.checksum) {
        good.push({ serial: row.serial, publicKey, firstSeen: row.firstSeen });
      }
    }
    if (good.length < rows.length) problems.push(`${rows.length - good.length} pinned key(s) fail their checksum`);
    return good;
  } catch (error) {
    problems.push(`pinned keys unreadable: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}

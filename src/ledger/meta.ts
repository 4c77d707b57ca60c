import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { LedgerCorruptError, LedgerInvalidInputError } from "./errors.js";
import { metaChecksum } from "./rows.js";
import type { LedgerStore } from "./store.js";
import { requireHex } from "./validate.js";

export const TAG_CONTEXT = Buffer.from("keybridge-tag-v1", "utf8");
export const SECRET_KEY = "server_secret";
export const INSTANCE_KEY = "instance_id";
const FOREIGN_SECRET_PREFIX = "server_secret.";

export function getMeta(store: LedgerStore, key: string): string | undefined {
  return store.guard("read meta", () => {
    const row = store.stmt("SELECT value, checksum FROM meta WHERE key = ?").get(key) as
      | { value: string; checksum: string }
      | undefined;
    if (row === undefined) return undefined;
    verifyMeta(store, key, row.value, row.checksum);
    return row.value;
  });
}

export function putMeta(store: LedgerStore, key: string, value: string): void {
  store
    .stmt("INSERT OR REPLACE INTO meta (key, value, checksum) VALUES (?, ?, ?)")
    .run(key, value, metaChecksum(key, value));
}

/** Loads (or, on a writable fresh ledger, creates) the secret and instance id; verifies their checksums. */
export function initialiseMeta(store: LedgerStore, writable: boolean): { secret: Buffer; instance: string } {
  if (writable && getMeta(store, SECRET_KEY) === undefined) {
    store.write("create server secret", () => {
      putMeta(store, SECRET_KEY, randomBytes(32).toString("hex"));
      putMeta(store, INSTANCE_KEY, randomUUID());
    });
  }
  const secret = getMeta(store, SECRET_KEY);
  const instance = getMeta(store, INSTANCE_KEY);
  if (secret === undefined || instance === undefined) {
    throw new LedgerCorruptError(`ledger ${store.file} is corrupt: its server secret or instance id is missing`, {
      details: { file: store.file },
    });
  }
  return { secret: Buffer.from(requireHexOrCorrupt(store.file, "server secret", secret, 32), "hex"), instance };
}

/** Secrets adopted from imported ledgers (to recover their tags), in key order. */
export function foreignSecrets(store: LedgerStore): Buffer[] {
  return store.guard("list server secrets", () =>
    (
      store
        .stmt(`SELECT key, value, checksum FROM meta WHERE key LIKE '${FOREIGN_SECRET_PREFIX}%' ORDER BY key`)
        .all() as { key: string; value: string; checksum: string }[]
    ).map((row) => {
      verifyMeta(store, row.key, row.value, row.checksum);
      return Buffer.from(row.value, "hex");
    }),
  );
}

/** The opId a tag is derived from, as its 16 bytes; throws LEDGER_INVALID_INPUT otherwise. */
export function opIdBytes(opId: Buffer | string): Buffer {
  const bytes = typeof opId === "string" ? Buffer.from(requireHex("opId", opId, 16), "hex") : opId;
  if (bytes.length !== 16) throw new LedgerInvalidInputError(`opId must be 16 bytes, got ${bytes.length}`);
  return bytes;
}

/** First 16 bytes of HMAC-SHA256(secret, "keybridge-tag-v1" || opId): recoverable from the opId alone. */
export function deriveTag(opId: Buffer, secret: Buffer): Buffer {
  return createHmac("sha256", secret).update(TAG_CONTEXT).update(opId).digest().subarray(0, 16);
}

/**
 * Adopts another ledger's secret; refused once this ledger holds borrows whose tags came from its
 * own (the secret is then kept beside it). Returns true when `secret` became the current one.
 */
export function adoptServerSecret(
  store: LedgerStore,
  current: Buffer,
  secret: Buffer,
  sourceInstanceId: string,
): boolean {
  if (secret.equals(current)) return false;
  const holdsBorrows =
    (store.stmt("SELECT 1 FROM borrows LIMIT 1").get() ?? store.stmt("SELECT 1 FROM ops LIMIT 1").get()) !== undefined;
  if (holdsBorrows) {
    putMeta(store, `${FOREIGN_SECRET_PREFIX}${sourceInstanceId}`, secret.toString("hex"));
    return false;
  }
  putMeta(store, SECRET_KEY, secret.toString("hex"));
  return true;
}

function verifyMeta(store: LedgerStore, key: string, value: string, checksum: string): void {
  if (metaChecksum(key, value) !== checksum) throw store.rowCorrupt(`meta entry ${key} fails its checksum`, { key });
}

function requireHexOrCorrupt(file: string, name: string, value: string, bytes: number): string {
  try {
    return requireHex(name, value, bytes);
  } catch (error) {
    throw new LedgerCorruptError(`ledger ${file} is corrupt: its ${name} is malformed`, {
      cause: error,
      details: { file },
    });
  }
}

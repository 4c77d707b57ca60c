import { LedgerKeyPinnedError, LedgerNotFoundError } from "./errors.js";
import { KEY_COLUMNS, keyChecksum, type StoredKey } from "./rows.js";
import type { LedgerStore } from "./store.js";
import type { KeyRow, KeyTouch } from "./types.js";
import { requireHex, requireInteger, requireNullableInteger, requireSerial } from "./validate.js";

export function getPinnedKey(store: LedgerStore, serial: string): KeyRow | undefined {
  return store.guard("read pinned key", () => {
    const row = store.stmt(`SELECT ${KEY_COLUMNS} FROM keys WHERE serial = ?`).get(serial) as StoredKey | undefined;
    return row === undefined ? undefined : verifyKey(store, row);
  });
}

/** Pins at first sight; the same key again is a no-op; a different key throws LEDGER_KEY_PINNED. */
export function pinKey(store: LedgerStore, serial: string, publicKey: string, now: number): KeyRow {
  requireSerial(serial);
  requireHex("publicKey", publicKey, 32);
  requireInteger("now", now);
  return store.write("pin key", () => {
    const existing = getPinnedKey(store, serial);
    if (existing !== undefined) {
      if (existing.publicKey === publicKey) return existing;
      throw new LedgerKeyPinnedError(`key ${serial} is pinned to a different public key`, {
        details: { serial, pinned: existing.publicKey, offered: publicKey },
      });
    }
    store
      .stmt(`INSERT INTO keys (serial, public_key, first_seen, last_seen, checksum) VALUES (?, unhex(?), ?, ?, ?)`)
      .run(serial, publicKey, now, now, keyChecksum(serial, publicKey, now));
    return getPinnedKey(store, serial) as KeyRow;
  });
}

/** Replaces a pin: only for an operator's explicit decision (or a forced import). */
export function replacePinnedKey(store: LedgerStore, serial: string, publicKey: string, now: number): KeyRow {
  requireSerial(serial);
  requireHex("publicKey", publicKey, 32);
  return store.write("replace pinned key", () => {
    store.stmt("DELETE FROM keys WHERE serial = ?").run(serial);
    return pinKey(store, serial, publicKey, now);
  });
}

export function touchKey(store: LedgerStore, serial: string, touch: KeyTouch): KeyRow {
  requireInteger("lastSeen", touch.lastSeen);
  if (touch.lastBinding != null) requireHex("lastBinding", touch.lastBinding, 32);
  requireNullableInteger("licenseSetVersion", touch.licenseSetVersion);
  return store.write("touch key", () => {
    const info = store
      .stmt(
        `UPDATE keys SET last_seen = @lastSeen,
           last_binding = CASE WHEN @setBinding THEN @lastBinding ELSE last_binding END,
           license_set_version = CASE WHEN @setVersion THEN @version ELSE license_set_version END
         WHERE serial = @serial`,
      )
      .run({
        serial,
        lastSeen: touch.lastSeen,
        setBinding: touch.lastBinding === undefined ? 0 : 1,
        lastBinding: touch.lastBinding ?? null,
        setVersion: touch.licenseSetVersion === undefined ? 0 : 1,
        version: touch.licenseSetVersion ?? null,
      });
    if (info.changes === 0) throw new LedgerNotFoundError(`key ${serial} is not pinned`, { details: { serial } });
    return getPinnedKey(store, serial) as KeyRow;
  });
}

export function listKeys(store: LedgerStore): KeyRow[] {
  return store.guard("list keys", () =>
    (store.stmt(`SELECT ${KEY_COLUMNS} FROM keys ORDER BY serial`).all() as StoredKey[]).map((row) =>
      verifyKey(store, row),
    ),
  );
}

function verifyKey(store: LedgerStore, row: StoredKey): KeyRow {
  const { checksum, publicKey: raw, ...rest } = row;
  const publicKey = Buffer.isBuffer(raw) ? raw.toString("hex") : undefined;
  if (publicKey === undefined || keyChecksum(row.serial, publicKey, row.firstSeen) !== checksum) {
    throw store.rowCorrupt(`pinned key ${row.serial} fails its checksum`, { serial: row.serial });
  }
  return { ...rest, publicKey };
}

import { mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { KeyFirmware, type KeySnapshot } from "../firmware/firmware.js";
import type { KeyStateDocument } from "../firmware/key-state.js";
import { FileKeyStore, type KeyStore } from "../key-store.js";
import { BoardKeyError, BoardKeyErrorCode } from "./errors.js";
import { StateLock } from "./lock.js";

/**
 * The key's state on a board: one file (FileKeyStore: JSON with a checksum, written to a temp
 * file, fsynced, renamed over the old one, the directory fsynced), mode 0600 in a 0700
 * directory, because it holds the key's identity secret. A power cut at any instant leaves the
 * old state or the new one.
 */

export const DEFAULT_STATE_PATH = "/var/lib/keybridge-key/key.json";

/** Printable, and what a USB serial string and a file name can both hold. */
const SERIAL_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;

/** A store that never makes a key up: a board's key is created once, by `init`. */
export class BoardKeyStore implements KeyStore {
  private readonly file: FileKeyStore;

  constructor(readonly location: string) {
    this.file = new FileKeyStore(location);
  }

  load(): KeyStateDocument {
    const document = this.file.load();
    if (document === undefined) throw notInitialised(this.location);
    return document;
  }

  save(document: KeyStateDocument): void {
    this.file.save(document);
  }
}

function notInitialised(statePath: string): BoardKeyError {
  return new BoardKeyError(
    BoardKeyErrorCode.NOT_INITIALISED,
    `there is no key at ${statePath}; create it once with \`keybridge key init --serial SERIAL\``,
    { details: { statePath } },
  );
}

/** Reads the key as it is stored, without changing anything (K4/K5 applied to the copy only). */
export function readKey(statePath: string): KeySnapshot {
  const store = new BoardKeyStore(statePath);
  const readOnly: KeyStore = {
    location: statePath,
    load: () => store.load(),
    save: () => {
      throw new Error("read-only");
    },
  };
  const firmware = KeyFirmware.boot({ store: readOnly, emit: () => {} }, { serial: store.load().serial });
  try {
    return firmware.snapshot();
  } finally {
    firmware.shutdown();
  }
}

export interface InitResult {
  /** False when the file already held this key (nothing was changed). */
  readonly created: boolean;
  readonly key: KeySnapshot;
}

/**
 * Creates the key once: a new identity key pair, the serial, no licenses, not provisioned. Run
 * again with the same serial it changes nothing; with another serial it is refused, because a
 * key's serial is what license servers pin its public key to.
 */
export function initKey(statePath: string, serial: string): InitResult {
  if (!SERIAL_PATTERN.test(serial)) {
    throw new BoardKeyError(
      BoardKeyErrorCode.BAD_SERIAL,
      `serial must be 1-32 letters, digits, '.', '_' or '-'; got ${JSON.stringify(serial)}`,
      { details: { serial } },
    );
  }
  makeStateDirectory(statePath);
  const lock = StateLock.acquire(statePath, "initialise it");
  try {
    removeTempFiles(statePath);
    const existing = new FileKeyStore(statePath).load();
    if (existing !== undefined) {
      if (existing.serial !== serial) {
        throw new BoardKeyError(
          BoardKeyErrorCode.OTHER_SERIAL,
          `${statePath} already holds key ${existing.serial}; a key keeps its serial for life ` +
            "(`keybridge key wipe` keeps it too). Use another --state file for another key",
          { details: { statePath, serial: existing.serial, asked: serial } },
        );
      }
      return { created: false, key: readKey(statePath) };
    }
    const firmware = KeyFirmware.boot({ store: new FileKeyStore(statePath), emit: () => {} }, { serial });
    const key = firmware.snapshot();
    firmware.shutdown();
    return { created: true, key };
  } finally {
    lock.release();
  }
}

/** Board-side wipe: no vendor key, counter 0, no licenses, no borrows; serial and identity stay. */
export function wipeKey(statePath: string, confirmed: boolean): KeySnapshot {
  if (!confirmed) {
    throw new BoardKeyError(
      BoardKeyErrorCode.NOT_CONFIRMED,
      "a wipe forgets the vendor key, the licenses and every borrow on the key; confirm with --yes",
    );
  }
  const lock = StateLock.acquire(statePath, "wipe it");
  try {
    removeTempFiles(statePath);
    const store = new BoardKeyStore(statePath);
    const firmware = KeyFirmware.boot({ store, emit: () => {} }, { serial: store.load().serial });
    try {
      firmware.wipe();
      return firmware.snapshot();
    } finally {
      firmware.shutdown();
    }
  } finally {
    lock.release();
  }
}

/**
 * Removes the temp files a save interrupted by a power cut leaves beside the state (they may hold
 * the key's secret). Only the lock holder calls this, so no save of another process is running.
 */
export function removeTempFiles(statePath: string): string[] {
  const directory = dirname(statePath);
  const prefix = `.${basename(statePath)}.`;
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    // No directory yet: nothing was ever saved there.
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(".tmp")) continue;
    unlinkSync(join(directory, name));
    removed.push(name);
  }
  return removed;
}

function makeStateDirectory(statePath: string): void {
  try {
    mkdirSync(dirname(statePath), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new BoardKeyError(BoardKeyErrorCode.STATE_DIR_FAILED, `cannot create ${dirname(statePath)}`, {
      cause: error,
      details: { path: dirname(statePath), errno: (error as NodeJS.ErrnoException).code },
    });
  }
}

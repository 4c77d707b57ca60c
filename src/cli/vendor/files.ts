import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import {
  decodeLicenseUpdateFile,
  MAX_UPDATE_FILE_SIZE,
  ProtocolError,
  type SignedLicenseUpdate,
  type VendorKeyPair,
  vendorPublicKeyFromText,
  vendorSecretFromPem,
} from "../../protocol/index.js";
import { CliFileError } from "../errors.js";
import { VendorError } from "./errors.js";

/**
 * The vendor's files: the secret (PKCS#8 PEM, 0600), the public key beside it (`.pub`, one line
 * of hex), the counters state (`.counters.json`: the last counter signed for each serial) and
 * license update files. Everything is written to a temp file, fsynced, renamed and the directory
 * fsynced, so a crash leaves the old file or the new one.
 */

/** `vendor.key` → `vendor.pub`; a name without `.key` gets `.pub` appended. */
export function publicFileOf(secretFile: string): string {
  return secretFile.endsWith(".key") ? `${secretFile.slice(0, -4)}.pub` : `${secretFile}.pub`;
}

/** `vendor.key` → `vendor.counters.json`, next to the secret. */
export function countersFileOf(secretFile: string): string {
  return secretFile.endsWith(".key") ? `${secretFile.slice(0, -4)}.counters.json` : `${secretFile}.counters.json`;
}

export function writeDurably(file: string, content: string | Uint8Array, mode: number): void {
  const directory = dirname(file);
  const temporary = join(directory, `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temporary, "wx", mode);
    try {
      writeSync(fd, typeof content === "string" ? Buffer.from(content) : content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
    const dir = openSync(directory, "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new CliFileError("FILE_UNWRITABLE", `cannot write ${file}: ${(error as Error).message}`, file, error);
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new CliFileError(
      "FILE_UNREADABLE",
      `cannot read the ${what} ${file}: ${(error as Error).message}`,
      file,
      error,
    );
  }
}

export interface LoadedSecret extends VendorKeyPair {
  /** Set when the file can be read by others than its owner. */
  readonly warning?: string;
}

/** Reads the vendor secret. Its content never appears in an error. */
export function readVendorSecret(file: string): LoadedSecret {
  const text = readText(file, "vendor secret");
  let pair: VendorKeyPair;
  try {
    pair = vendorSecretFromPem(text);
  } catch (error) {
    throw new VendorError(
      "VENDOR_KEY_INVALID",
      `${file} is not a vendor secret (an Ed25519 PKCS#8 PEM key): ${(error as Error).message}`,
      {
        details: { file },
      },
    );
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return pair;
  return {
    ...pair,
    warning: `${file} can be read by others (mode 0${mode.toString(8)}); whoever reads it can sign licenses: chmod 600 it`,
  };
}

/** A public key given as 64 hex digits, or as the path of a file holding them (a `.pub`). */
export function readVendorPublicKey(value: string): Uint8Array {
  const text = /^\s*[0-9a-fA-F]{64}\s*$/.test(value) ? value : readText(value, "vendor public key");
  try {
    return vendorPublicKeyFromText(text);
  } catch (error) {
    throw new VendorError("VENDOR_KEY_INVALID", `${value}: ${(error as Error).message}`, { details: { value } });
  }
}

const COUNTERS_FORMAT = "keybridge-vendor-counters";

interface CountersDocument {
  readonly format: typeof COUNTERS_FORMAT;
  readonly version: 1;
  /** Hex of the vendor public key these counters belong to. */
  readonly vendorPublicKey: string;
  /** Serial → the last counter signed for it. */
  readonly serials: Record<string, number>;
}

export class VendorCounters {
  private constructor(
    readonly file: string,
    private readonly vendorPublicKey: string,
    private readonly serials: Record<string, number>,
  ) {}

  /** Reads the counters next to the secret (none yet: empty); a file of another vendor key is refused. */
  static load(secretFile: string, vendorPublicKey: Uint8Array): VendorCounters {
    const file = countersFileOf(secretFile);
    const publicHex = Buffer.from(vendorPublicKey).toString("hex");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new VendorCounters(file, publicHex, {});
      throw new CliFileError("FILE_UNREADABLE", `cannot read ${file}: ${(error as Error).message}`, file, error);
    }
    let document: CountersDocument;
    try {
      document = JSON.parse(text) as CountersDocument;
    } catch (error) {
      throw new VendorError("VENDOR_COUNTERS_INVALID", `${file} is not valid JSON; restore it from a backup`, {
        cause: error,
        details: { file },
      });
    }
    const valid =
      document.format === COUNTERS_FORMAT &&
      typeof document.serials === "object" &&
      document.serials !== null &&
      Object.values(document.serials).every((n) => Number.isSafeInteger(n) && n >= 0);
    if (!valid)
      throw new VendorError("VENDOR_COUNTERS_INVALID", `${file} is not a vendor counters file`, { details: { file } });
    if (document.vendorPublicKey !== publicHex) {
      throw new VendorError(
        "VENDOR_COUNTERS_INVALID",
        `${file} holds the counters of another vendor key (${document.vendorPublicKey}); keep each secret with its own counters`,
        { details: { file } },
      );
    }
    return new VendorCounters(file, publicHex, { ...document.serials });
  }

  last(serial: string): number {
    return this.serials[serial] ?? 0;
  }

  /** Records `counter` as signed for `serial` (durably, before the update file is written). */
  record(serial: string, counter: number): void {
    this.serials[serial] = Math.max(counter, this.last(serial));
    const document: CountersDocument = {
      format: COUNTERS_FORMAT,
      version: 1,
      vendorPublicKey: this.vendorPublicKey,
      serials: Object.fromEntries(Object.entries(this.serials).sort(([a], [b]) => a.localeCompare(b))),
    };
    writeDurably(this.file, `${JSON.stringify(document, null, 2)}\n`, 0o600);
  }
}

/** Reads and decodes an update file; a file too large to be one is refused before it is read whole. */
export function readUpdateFile(file: string): SignedLicenseUpdate {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    throw new CliFileError("FILE_UNREADABLE", `cannot read ${file}: ${(error as Error).message}`, file, error);
  }
  if (size > MAX_UPDATE_FILE_SIZE) {
    throw new VendorError(
      "UPDATE_FILE_INVALID",
      `${file} has ${size} bytes; a license update file has at most ${MAX_UPDATE_FILE_SIZE}`,
      { details: { file, size } },
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new CliFileError("FILE_UNREADABLE", `cannot read ${file}: ${(error as Error).message}`, file, error);
  }
  try {
    return decodeLicenseUpdateFile(bytes);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new VendorError("UPDATE_FILE_INVALID", `${file}: ${error.message}`, {
      cause: error,
      details: { file, protocolCode: error.code },
    });
  }
}

import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { VirtualKeyError, VirtualKeyErrorCode } from "./errors.js";
import type { KeyStateDocument } from "./firmware/key-state.js";

/**
 * Where a virtual key keeps its state between boots: the key's "flash". `save` returns only
 * once the state is durable, and the firmware calls it before it emits the response report, as
 * a real key finishes its flash write before it answers.
 */
export interface KeyStore {
  /** The last saved state, or undefined for a key that was never saved. Throws STATE_CORRUPT for a damaged one. */
  load(): KeyStateDocument | undefined;
  save(document: KeyStateDocument): void;
  /** For messages: the file path, or "memory". */
  readonly location: string;
}

/** Keeps the state in memory: survives reboot and unplug of the virtual key, not the process. */
export class MemoryKeyStore implements KeyStore {
  readonly location = "memory";
  private document: KeyStateDocument | undefined;

  load(): KeyStateDocument | undefined {
    return this.document;
  }

  save(document: KeyStateDocument): void {
    this.document = document;
  }
}

interface StateFile {
  readonly checksum: string;
  readonly state: KeyStateDocument;
}

function checksumOf(stateJson: string): string {
  return createHash("sha256").update(stateJson).digest("hex");
}

/**
 * The whole state as one JSON file `{"checksum": sha256(state JSON), "state": {...}}`, mode 0600
 * (it holds the key's private key). Written atomically: temp file, fsync, rename, fsync of the
 * directory, so a process killed at any instant leaves either the old or the new state.
 */
export class FileKeyStore implements KeyStore {
  constructor(readonly location: string) {}

  load(): KeyStateDocument | undefined {
    let text: string;
    try {
      text = readFileSync(this.location, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new VirtualKeyError(
        VirtualKeyErrorCode.STATE_UNREADABLE,
        `cannot read virtual key state ${this.location}`,
        {
          cause: error,
          details: { path: this.location },
        },
      );
    }
    return parseStateFile(text, this.location);
  }

  save(document: KeyStateDocument): void {
    const stateJson = JSON.stringify(document);
    const text = `{"checksum":"${checksumOf(stateJson)}","state":${stateJson}}\n`;
    const directory = dirname(this.location);
    const temp = join(directory, `.${basename(this.location)}.${process.pid}.tmp`);
    try {
      const fd = openSync(temp, "w", 0o600);
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.location);
      syncDirectory(directory);
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // The temp file may not exist (open failed); the write error below is what matters.
      }
      throw new VirtualKeyError(
        VirtualKeyErrorCode.STATE_WRITE_FAILED,
        `cannot write virtual key state ${this.location}`,
        {
          cause: error,
          details: { path: this.location, errno: (error as NodeJS.ErrnoException).code },
        },
      );
    }
  }
}

function syncDirectory(directory: string): void {
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Verifies the checksum before anything else: a damaged file is refused, never reset to a blank key. */
export function parseStateFile(text: string, location: string): KeyStateDocument {
  const refuse = (why: string, cause?: unknown): VirtualKeyError =>
    new VirtualKeyError(VirtualKeyErrorCode.STATE_CORRUPT, `virtual key state ${location} is corrupt: ${why}`, {
      cause,
      details: { path: location },
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw refuse("not valid JSON", error);
  }
  if (typeof parsed !== "object" || parsed === null) throw refuse("not a JSON object");
  const file = parsed as Partial<StateFile>;
  if (typeof file.checksum !== "string" || typeof file.state !== "object" || file.state === null) {
    throw refuse("checksum or state missing");
  }
  if (checksumOf(JSON.stringify(file.state)) !== file.checksum) throw refuse("checksum mismatch");
  return file.state;
}

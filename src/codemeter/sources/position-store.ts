import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { layerLogger } from "../../log.js";
import { CodeMeterPositionWriteError, errnoOf } from "../errors.js";

const log = layerLogger("codemeter");

/**
 * Where following the License Tracking log has got to, per file: kept in keybridge's data
 * directory (never next to CodeMeter's files) so that a restart goes on where it stopped instead
 * of reading gigabytes again. A file is known by device and inode, so a rename (rotation) keeps
 * its position; the first bytes of the file tell a new file that reuses an inode from the old one.
 */
export interface PositionRecord {
  /** `dev:ino` */
  readonly stream: string;
  /** Its name when last seen, for people reading the file. */
  readonly name: string;
  /** Offset just after the last complete line read. */
  readonly position: number;
  /** Inside a line too long to read: discarding up to its end. */
  readonly skipping: boolean;
  /** Hex of the file's first bytes (up to 64). */
  readonly head: string;
}

export interface PositionStore {
  /** Loads what was saved; a missing file is no positions, a damaged one is no positions and a finding. */
  load(): Promise<{ damaged: boolean }>;
  get(stream: string): PositionRecord | undefined;
  set(record: PositionRecord): void;
  /** Forgets the files not listed (deleted ones). */
  retain(streams: ReadonlySet<string>): void;
  /** Writes atomically when something changed; throws CODEMETER_POSITION_WRITE_FAILED. */
  flush(): Promise<void>;
}

interface SavedPositions {
  version: 1;
  dir: string;
  files: PositionRecord[];
}

export const POSITIONS_FILE = "codemeter-tracking-positions.json";

/** Positions in one JSON file (0600), replaced atomically: temporary file, fsync, rename. */
export class FilePositionStore implements PositionStore {
  readonly #path: string;
  readonly #dir: string;
  readonly #records = new Map<string, PositionRecord>();
  #dirty = false;

  /** `dir` is the log directory the positions belong to: positions saved for another are not used. */
  constructor(path: string, dir: string) {
    this.#path = path;
    this.#dir = dir;
  }

  async load(): Promise<{ damaged: boolean }> {
    let text: string;
    try {
      text = await readFile(this.#path, "utf8");
    } catch (error) {
      if (errnoOf(error) === "ENOENT") return { damaged: false };
      log.warn("cannot read the tracking positions", { path: this.#path, error: (error as Error).message });
      return { damaged: true };
    }
    try {
      const saved = JSON.parse(text) as Partial<SavedPositions>;
      if (saved.version !== 1 || !Array.isArray(saved.files)) return { damaged: true };
      if (saved.dir !== this.#dir) return { damaged: false };
      for (const record of saved.files) {
        if (
          typeof record?.stream === "string" &&
          typeof record.position === "number" &&
          Number.isSafeInteger(record.position) &&
          record.position >= 0 &&
          typeof record.head === "string"
        ) {
          this.#records.set(record.stream, {
            stream: record.stream,
            name: String(record.name ?? ""),
            position: record.position,
            skipping: record.skipping === true,
            head: record.head,
          });
        }
      }
      return { damaged: false };
    } catch {
      return { damaged: true };
    }
  }

  get(stream: string): PositionRecord | undefined {
    return this.#records.get(stream);
  }

  set(record: PositionRecord): void {
    const known = this.#records.get(record.stream);
    if (
      known !== undefined &&
      known.position === record.position &&
      known.skipping === record.skipping &&
      known.head === record.head &&
      known.name === record.name
    ) {
      return;
    }
    this.#records.set(record.stream, record);
    this.#dirty = true;
  }

  retain(streams: ReadonlySet<string>): void {
    for (const stream of [...this.#records.keys()]) {
      if (!streams.has(stream)) {
        this.#records.delete(stream);
        this.#dirty = true;
      }
    }
  }

  async flush(): Promise<void> {
    if (!this.#dirty) return;
    const saved: SavedPositions = { version: 1, dir: this.#dir, files: [...this.#records.values()] };
    const temporary = `${this.#path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
      const handle = await open(temporary, "wx", 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(saved)}\n`, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.#path);
      this.#dirty = false;
    } catch (error) {
      await rm(temporary, { force: true }).catch((cleanup: unknown) => {
        log.warn("cannot remove a temporary positions file", { path: temporary, error: (cleanup as Error).message });
      });
      throw new CodeMeterPositionWriteError(this.#path, { cause: error });
    }
  }
}

/** Positions kept in memory only (tests; a restart then reads the log again). */
export class MemoryPositionStore implements PositionStore {
  readonly #records = new Map<string, PositionRecord>();

  async load(): Promise<{ damaged: boolean }> {
    return { damaged: false };
  }

  get(stream: string): PositionRecord | undefined {
    return this.#records.get(stream);
  }

  set(record: PositionRecord): void {
    this.#records.set(record.stream, record);
  }

  retain(streams: ReadonlySet<string>): void {
    for (const stream of [...this.#records.keys()]) if (!streams.has(stream)) this.#records.delete(stream);
  }

  async flush(): Promise<void> {}
}

import type { Dirent } from "node:fs";
import { type FileHandle, open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { layerLogger } from "../../log.js";
import { errnoOf } from "../errors.js";
import type { TrackingEntry } from "../model/entries.js";
import type { Finding } from "../model/findings.js";
import type { TrackingStatus } from "../model/inputs.js";
import { scanLines } from "../model/line-scan.js";
import { parseTrackingLine } from "../model/tracking-line.js";
import type { PositionStore } from "./position-store.js";

const log = layerLogger("codemeter");

/** The entries read from one file in one go. */
export interface TrackingBatch {
  /** `dev:ino` of the file: survives a rename (rotation). */
  readonly stream: string;
  readonly file: string;
  readonly entries: readonly TrackingEntry[];
  /** The file has been read to its current end. */
  readonly atEnd: boolean;
}

export interface TrackingReadResult {
  readonly status: TrackingStatus;
  /** More is left to read than one call reads: call again soon. */
  readonly pending: boolean;
}

export interface TrackingTail {
  readonly file: string;
  /** The last lines of the file, oldest first. */
  readonly lines: readonly string[];
}

/** CodeMeter's License Tracking log: the files of one directory, followed as they grow. */
export interface TrackingLogSource {
  /**
   * Reads what was appended since the last call and hands it to `consume`, batch by batch; a
   * file's read position is saved only after `consume` returned for it. Problems with the files
   * are findings in the status; it rejects only with an error `consume` threw.
   */
  read(consume: (batch: TrackingBatch) => void): Promise<TrackingReadResult>;
  /** The last `count` lines of each file, for the capture bundle. */
  tail(count: number): Promise<TrackingTail[]>;
  /** Bytes read from log files since this source was made. */
  bytesRead(): number;
}

export interface TrackingLogOptions {
  /** The directory (`LogLicenseTrackingPath`), or a function giving the current one (null: none known). */
  readonly directory: string | (() => string | null);
  /** The store of read positions for a directory. */
  readonly positions: (dir: string) => PositionStore;
  /** Longer lines are skipped and counted. Default 1 MiB. */
  readonly maxLineBytes?: number;
  /** At most this much is read per `read()` call; the rest is `pending`. Default 64 MiB. */
  readonly maxBytesPerRead?: number;
}

/** Compressed rotations are not text: they are left alone rather than counted as garbage. */
const SKIPPED_EXTENSIONS = /\.(gz|bz2|xz|zip|7z|zst|lz4)$/i;
const HEAD_BYTES = 64;
/** One read from a log file. */
const READ_BYTES = 1 << 20;

interface LogFile {
  readonly name: string;
  readonly path: string;
  readonly stream: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Follows the log by polling (a `stat` per file per call; nothing is read from a file that did not
 * grow), which works the same on every file system and costs nothing while the log is idle. Files
 * are discovered in the directory — their names are not documented — and read oldest first. A
 * file that shrank was truncated (read again from its start); a file whose first bytes changed is
 * a new file that reuses an inode. Every file is opened read-only.
 */
export class FollowedTrackingLog implements TrackingLogSource {
  readonly #options: TrackingLogOptions;
  readonly #maxLineBytes: number;
  readonly #buffers: [Buffer, Buffer];
  #dir: string | null = null;
  #positions: PositionStore | null = null;
  #positionsFinding: Finding | null = null;
  #malformed = 0;
  #oversized = 0;
  #bytesRead = 0;
  #reading: Promise<TrackingReadResult> | null = null;

  constructor(options: TrackingLogOptions) {
    this.#options = options;
    this.#maxLineBytes = options.maxLineBytes ?? 1 << 20;
    // Room for the longest line kept plus a read's worth: a line that does not fit is too long.
    this.#buffers = [
      Buffer.allocUnsafe(this.#maxLineBytes + READ_BYTES),
      Buffer.allocUnsafe(this.#maxLineBytes + READ_BYTES),
    ];
  }

  bytesRead(): number {
    return this.#bytesRead;
  }

  #directory(): string | null {
    const { directory } = this.#options;
    return typeof directory === "string" ? directory : directory();
  }

  read(consume: (batch: TrackingBatch) => void): Promise<TrackingReadResult> {
    // One read at a time: the positions of two concurrent reads would race.
    const previous = this.#reading ?? Promise.resolve();
    const next = previous.then(() => this.#read(consume));
    this.#reading = next.then(
      (result) => result,
      (error: unknown) => {
        log.debug("a tracking read ended with its consumer's error", { error: (error as Error).message });
        return { status: this.#status(this.#dir, "ok", 0, []), pending: false };
      },
    );
    return next;
  }

  #status(dir: string | null, state: TrackingStatus["state"], files: number, findings: Finding[]): TrackingStatus {
    const all = [...findings];
    if (this.#positionsFinding !== null) all.push(this.#positionsFinding);
    if (this.#malformed > 0) {
      all.push({
        code: "tracking-malformed-lines",
        message: `${this.#malformed} line(s) of the License Tracking log could not be read and were skipped`,
        ...(dir === null ? {} : { where: dir }),
      });
    }
    if (this.#oversized > 0) {
      all.push({
        code: "tracking-oversized-lines",
        message: `${this.#oversized} line(s) longer than ${this.#maxLineBytes} bytes were skipped`,
        ...(dir === null ? {} : { where: dir }),
      });
    }
    return { dir, state, files, findings: all, malformedLines: this.#malformed, oversizedLines: this.#oversized };
  }

  async #read(consume: (batch: TrackingBatch) => void): Promise<TrackingReadResult> {
    const dir = this.#directory();
    if (dir === null) return { status: this.#status(null, "none", 0, []), pending: false };
    if (dir !== this.#dir || this.#positions === null) {
      this.#dir = dir;
      this.#positions = this.#options.positions(dir);
      const { damaged } = await this.#positions.load();
      this.#positionsFinding = damaged
        ? {
            code: "tracking-position-unreadable",
            message: "the saved read positions could not be read; the log is read again from the start",
            where: dir,
          }
        : null;
    }
    const positions = this.#positions;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === "ENOENT" || errno === "ENOTDIR") {
        return {
          status: this.#status(dir, "missing", 0, [
            {
              code: "tracking-dir-missing",
              message: `the License Tracking directory ${dir} does not exist${errno === "ENOTDIR" ? " (the path is not a directory)" : ""}; the last picture is kept`,
              where: dir,
            },
          ]),
          pending: false,
        };
      }
      return {
        status: this.#status(dir, "unreadable", 0, [
          {
            code: "tracking-dir-unreadable",
            message: `the License Tracking directory ${dir} cannot be read (${errno ?? String(error)}); give the keybridge service account read access; the last picture is kept`,
            where: dir,
          },
        ]),
        pending: false,
      };
    }
    const findings: Finding[] = [];
    const files: LogFile[] = [];
    for (const entry of entries) {
      if (entry.isDirectory() || SKIPPED_EXTENSIONS.test(entry.name)) continue;
      const path = join(dir, entry.name);
      try {
        const info = await stat(path, { bigint: false });
        if (!info.isFile()) continue;
        files.push({
          name: entry.name,
          path,
          stream: `${info.dev}:${info.ino}`,
          size: info.size,
          mtimeMs: info.mtimeMs,
        });
      } catch (error) {
        // Rotated away between listing and stat: the next call sees it under its new name.
        if (errnoOf(error) !== "ENOENT") findings.push(unreadable(path, error));
      }
    }
    // Files already followed first (a rotated file's rest is older than anything in a new file),
    // then by modification time: file times can be equal to the millisecond, so that alone would not do.
    const known = (file: LogFile) => (positions.get(file.stream) === undefined ? 1 : 0);
    files.sort(
      (a, b) => known(a) - known(b) || a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    let budget = this.#options.maxBytesPerRead ?? 64 << 20;
    let pending = false;
    const streams = new Set<string>();
    for (const file of files) {
      streams.add(file.stream);
      if (budget <= 0) {
        const known = positions.get(file.stream);
        if ((known?.position ?? 0) !== file.size) pending = true;
        continue;
      }
      try {
        const used = await this.#follow(file, positions, budget, consume, findings);
        budget -= used.bytes;
        if (used.pending) pending = true;
      } catch (error) {
        if (error instanceof ConsumerFailed) throw error.cause;
        findings.push(unreadable(file.path, error));
      }
    }
    positions.retain(streams);
    try {
      await positions.flush();
      if (this.#positionsFinding?.code === "tracking-position-unwritable") this.#positionsFinding = null;
    } catch (error) {
      log.warn("cannot save the tracking positions", { error: (error as Error).message });
      this.#positionsFinding = {
        code: "tracking-position-unwritable",
        message: (error as Error).message,
        where: dir,
      };
    }
    return { status: this.#status(dir, "ok", files.length, findings), pending };
  }

  async #follow(
    file: LogFile,
    positions: PositionStore,
    budget: number,
    consume: (batch: TrackingBatch) => void,
    findings: Finding[],
  ): Promise<{ bytes: number; pending: boolean }> {
    const known = positions.get(file.stream);
    let position = known?.position ?? 0;
    let skipping = known?.skipping ?? false;
    if (known !== undefined && file.size === position) return { bytes: 0, pending: false };
    let handle: FileHandle;
    try {
      handle = await open(file.path, "r");
    } catch (error) {
      if (errnoOf(error) === "ENOENT") return { bytes: 0, pending: false };
      throw error;
    }
    let used = 0;
    try {
      const head = await readHead(handle, file.size);
      if (known !== undefined) {
        const sameFile = head.startsWith(known.head) || known.head.startsWith(head);
        if (file.size < known.position || !sameFile) {
          findings.push({
            code: "tracking-truncated",
            message: `${file.name} ${file.size < known.position ? "shrank" : "was replaced"}; read again from its start`,
            where: file.path,
          });
          position = 0;
          skipping = false;
        }
      }
      const record = (atPosition: number) =>
        positions.set({ stream: file.stream, name: file.name, position: atPosition, skipping, head });
      record(position);
      // Two buffers: the next part of the file is read while this one is parsed. Each has room in
      // front for the start of a line cut by the end of the previous read, copied there before
      // parsing, so a line is always parsed whole.
      const room = this.#maxLineBytes;
      const [first, second] = this.#buffers;
      let current = first;
      let other = second;
      let carry = 0;
      let readAt = position;
      const readInto = (buffer: Buffer): Promise<number> => {
        const want = Math.min(READ_BYTES, file.size - readAt);
        const at = readAt;
        readAt += want;
        return want <= 0 ? Promise.resolve(0) : handle.read(buffer, room, want, at).then((read) => read.bytesRead);
      };
      let next: Promise<number> | null = position < file.size && used < budget ? readInto(current) : null;
      try {
        while (next !== null) {
          const bytesRead = await next;
          next = null;
          if (bytesRead === 0) break;
          this.#bytesRead += bytesRead;
          const window = current.subarray(room - carry, room + bytesRead);
          const entries: TrackingEntry[] = [];
          const result = scanLines(window, window.length, { skipping }, this.#maxLineBytes, (line) => {
            const parsed = parseTrackingLine(line);
            if (parsed.ok) entries.push(parsed.entry);
            else if (parsed.reason !== "empty") this.#malformed++;
          });
          this.#oversized += result.oversized;
          skipping = result.skipping;
          position += result.consumed;
          used += result.consumed;
          carry = window.length - result.consumed;
          if (readAt < file.size && used < budget) {
            next = readInto(other);
            // The cut line goes in front of where the next read lands (not the same bytes).
            window.copy(other, room - carry, result.consumed);
          }
          const atEnd = readAt >= file.size;
          try {
            consume({ stream: file.stream, file: file.path, entries, atEnd });
          } catch (error) {
            throw new ConsumerFailed(error);
          }
          record(position);
          [current, other] = [other, current];
        }
      } finally {
        // Never close the file under a read still in flight.
        if (next !== null) {
          await next.catch((error: unknown) =>
            log.debug("a read ahead ended with an error after the read had stopped", { error: String(error) }),
          );
        }
      }
    } finally {
      await handle.close();
    }
    return { bytes: used, pending: position < file.size && used >= budget };
  }

  async tail(count: number): Promise<TrackingTail[]> {
    const dir = this.#directory();
    if (dir === null || count <= 0) return [];
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true }))
        .filter((entry) => !entry.isDirectory() && !SKIPPED_EXTENSIONS.test(entry.name))
        .map((entry) => entry.name);
    } catch (error) {
      log.debug("tracking directory not readable for the tail", { dir, error: (error as Error).message });
      return [];
    }
    const tails: { file: string; mtimeMs: number; lines: string[] }[] = [];
    for (const name of names) {
      const path = join(dir, name);
      try {
        const info = await stat(path);
        if (!info.isFile()) continue;
        tails.push({
          file: path,
          mtimeMs: info.mtimeMs,
          lines: await lastLines(path, info.size, count, this.#maxLineBytes),
        });
      } catch (error) {
        log.debug("tracking file not readable for the tail", { path, error: (error as Error).message });
      }
    }
    return tails.sort((a, b) => a.mtimeMs - b.mtimeMs).map(({ file, lines }) => ({ file, lines }));
  }
}

/** The consumer's own failure: it ends the read (positions not advanced past it), and is the caller's to handle. */
class ConsumerFailed {
  constructor(readonly cause: unknown) {}
}

function unreadable(path: string, error: unknown): Finding {
  const errno = errnoOf(error);
  return {
    code: "tracking-file-unreadable",
    message: `${path} cannot be read (${errno ?? String(error)})${errno === "EACCES" || errno === "EPERM" ? "; give the keybridge service account read access" : ""}`,
    where: path,
  };
}

async function readHead(handle: FileHandle, size: number): Promise<string> {
  const length = Math.min(HEAD_BYTES, size);
  if (length === 0) return "";
  const bytes = Buffer.alloc(length);
  const { bytesRead } = await handle.read(bytes, 0, length, 0);
  return bytes.subarray(0, bytesRead).toString("hex");
}

/** The last `count` complete lines of a file, reading backwards in blocks; lines over `maxLine` are left out. */
async function lastLines(path: string, size: number, count: number, maxLine: number): Promise<string[]> {
  const handle = await open(path, "r");
  try {
    const block = 64 << 10;
    const limit = Math.min(size, (count + 1) * Math.min(maxLine, 4096) + block, 16 << 20);
    let start = size;
    let collected = Buffer.alloc(0);
    while (start > 0 && size - start < limit) {
      const from = Math.max(0, start - block);
      const chunk = Buffer.alloc(start - from);
      await handle.read(chunk, 0, chunk.length, from);
      collected = Buffer.concat([chunk, collected]);
      start = from;
      let newlines = 0;
      for (let i = collected.indexOf(10); i >= 0; i = collected.indexOf(10, i + 1)) newlines++;
      if (newlines > count) break;
    }
    const text = collected.toString("utf8");
    const parts = text.split("\n");
    parts.pop(); // after the last newline: a line still being written, or nothing
    if (start > 0) parts.shift(); // the first part may be cut
    return parts
      .map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line))
      .filter((line) => Buffer.byteLength(line) <= maxLine)
      .slice(-count);
  } finally {
    await handle.close();
  }
}

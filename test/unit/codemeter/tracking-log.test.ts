import {
  appendFileSync,
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TrackingEntry } from "../../../src/codemeter/model/entries.js";
import {
  FilePositionStore,
  MemoryPositionStore,
  POSITIONS_FILE,
} from "../../../src/codemeter/sources/position-store.js";
import { FollowedTrackingLog, type TrackingBatch } from "../../../src/codemeter/sources/tracking-log.js";
import { tempDir } from "./helpers.js";

// SYNTHETIC log lines, built from the License Tracking grammar.

function release(n: number): string {
  const second = String(n % 60).padStart(2, "0");
  const minute = String(Math.floor(n / 60) % 60).padStart(2, "0");
  return `2026-03-02T08:${minute}:${second} Release Server:"s", AccessID:2-1500002-10-1-${n}`;
}

function lines(from: number, to: number): string {
  let text = "";
  for (let n = from; n < to; n++) text += `${release(n)}\n`;
  return text;
}

function accessIds(entries: readonly TrackingEntry[]): number[] {
  return entries.map((entry) => (entry.type === "Release" ? Number(entry.accessId?.split("-").at(-1)) : -1));
}

async function readAll(log: FollowedTrackingLog) {
  const batches: TrackingBatch[] = [];
  let result = await log.read((batch) => batches.push(batch));
  while (result.pending) result = await log.read((batch) => batches.push(batch));
  return { batches, entries: batches.flatMap((batch) => batch.entries), status: result.status };
}

function follower(
  dir: string,
  options: { positionsFile?: string; maxLineBytes?: number; maxBytesPerRead?: number } = {},
) {
  const memory = new MemoryPositionStore();
  return new FollowedTrackingLog({
    directory: dir,
    positions: (d) => (options.positionsFile === undefined ? memory : new FilePositionStore(options.positionsFile, d)),
    ...(options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes }),
    ...(options.maxBytesPerRead === undefined ? {} : { maxBytesPerRead: options.maxBytesPerRead }),
  });
}

describe("following the License Tracking log", () => {
  it("any bytes in a file: every line is an entry or a counted skip, the read ends, nothing throws (property)", async () => {
    const dir = tempDir();
    const file = join(dir, "synthetic-random.log");
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(Buffer.from(`${release(1)}\n`))), {
          maxLength: 20,
        }),
        async (parts) => {
          const data = Buffer.concat(parts);
          writeFileSync(file, data);
          const log = follower(dir, { maxLineBytes: 200 });
          const { entries, status } = await readAll(log);
          // The reference: the complete lines; blank ones (as the parser trims them) are neither.
          let complete = 0;
          let blank = 0;
          for (let from = 0, nl = data.indexOf(10); nl >= 0; from = nl + 1, nl = data.indexOf(10, from)) {
            complete++;
            const text = data.toString("utf8", from, nl);
            if (nl - from <= 200 && text.replace(/[\r ]+$/, "").replace(/^\ufeff?[ \t]*/, "") === "") blank++;
          }
          expect(entries.length + status.malformedLines + status.oversizedLines + blank).toBe(complete);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("reads what was appended, and a line still being written only once it is complete", async () => {
    const dir = tempDir();
    const file = join(dir, "synthetic-fc10.log");
    writeFileSync(file, lines(0, 3));
    const log = follower(dir);
    expect(accessIds((await readAll(log)).entries)).toEqual([0, 1, 2]);
    appendFileSync(file, `${lines(3, 5)}${release(5).slice(0, 20)}`);
    const second = await readAll(log);
    expect(accessIds(second.entries)).toEqual([3, 4]);
    expect(second.batches.at(-1)?.atEnd).toBe(true);
    appendFileSync(file, `${release(5).slice(20)}\r\n`);
    expect(accessIds((await readAll(log)).entries)).toEqual([5]);
    expect(accessIds((await readAll(log)).entries)).toEqual([]);
  });

  it("rotation by rename: the rest of the old file, then the new one from its start, nothing twice", async () => {
    const dir = tempDir();
    const file = join(dir, "synthetic-fc10.log");
    writeFileSync(file, lines(0, 2));
    const log = follower(dir);
    await readAll(log);
    appendFileSync(file, lines(2, 4));
    renameSync(file, `${file}.1`);
    writeFileSync(file, lines(4, 6));
    expect(accessIds((await readAll(log)).entries)).toEqual([2, 3, 4, 5]);
    rmSync(`${file}.1`);
    appendFileSync(file, lines(6, 7));
    expect(accessIds((await readAll(log)).entries)).toEqual([6]);
  });

  it("truncation (copy and truncate): the file is read again from its start, with a finding", async () => {
    const dir = tempDir();
    const file = join(dir, "synthetic-fc10.log");
    writeFileSync(file, lines(0, 5));
    const log = follower(dir);
    await readAll(log);
    writeFileSync(file, lines(10, 12));
    const after = await readAll(log);
    expect(accessIds(after.entries)).toEqual([10, 11]);
    expect(after.status.findings).toEqual([expect.objectContaining({ code: "tracking-truncated", where: file })]);
  });

  it("a file rewritten to a larger size with other content (same inode) is read again from its start", async () => {
    const dir = tempDir();
    const file = join(dir, "synthetic-fc10.log");
    writeFileSync(file, lines(0, 2));
    const log = follower(dir);
    await readAll(log);
    writeFileSync(file, lines(20, 30));
    expect(accessIds((await readAll(log)).entries)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  });

  it("a line over the bound is skipped and counted without holding it, the lines after it are read", async () => {
    const dir = tempDir();
    const file = join(dir, "synthetic-fc10.log");
    const huge = `2026-03-02T08:00:00 Access Server:"${"x".repeat(3 << 20)}"`;
    writeFileSync(file, `${release(1)}\n${huge}\n${release(2)}\n`);
    const log = follower(dir, { maxLineBytes: 1 << 20 });
    const { entries, status } = await readAll(log);
    expect(accessIds(entries)).toEqual([1, 2]);
    expect(status.oversizedLines).toBe(1);
    expect(status.findings).toEqual([expect.objectContaining({ code: "tracking-oversized-lines" })]);
  });

  it("a line over the bound that is still growing is skipped across reads", async () => {
    const dir = tempDir();
    const file = join(dir, "synthetic-fc10.log");
    writeFileSync(file, `${release(1)}\n2026-03-02T08:00:00 Access Server:"${"y".repeat(2000)}`);
    const log = follower(dir, { maxLineBytes: 1000 });
    expect(accessIds((await readAll(log)).entries)).toEqual([1]);
    appendFileSync(file, `${"y".repeat(5000)}"\n${release(2)}\n`);
    const { entries, status } = await readAll(log);
    expect(accessIds(entries)).toEqual([2]);
    expect(status.oversizedLines).toBe(1);
  });

  it("binary garbage and a truncated last line are counted, never fatal; compressed rotations are left alone", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "garbage.log"), Buffer.from([0, 255, 10, 1, 2, 3, 10, 0xc3, 0x28, 10, 0xff, 0xfe]));
    writeFileSync(join(dir, "old.log.gz"), Buffer.from([0x1f, 0x8b, 8, 0, 10, 10, 10]));
    writeFileSync(join(dir, "good.log"), `${lines(0, 2)}2026-03-02T08:0`);
    const { entries, status } = await readAll(follower(dir));
    expect(accessIds(entries)).toEqual([0, 1]);
    expect(status.malformedLines).toBe(3);
    expect(status.files).toBe(2);
  });

  it("a directory that does not exist, or is not a directory, is a finding, not an error", async () => {
    const parent = tempDir();
    const missing = await readAll(follower(join(parent, "nope")));
    expect(missing.status).toMatchObject({
      state: "missing",
      findings: [expect.objectContaining({ code: "tracking-dir-missing" })],
    });
    writeFileSync(join(parent, "file"), "x");
    const notDir = await readAll(follower(join(parent, "file")));
    expect(notDir.status.findings[0]?.message).toContain("not a directory");
  });

  it("positions saved in the data directory: a new follower goes on where the last one stopped", async () => {
    const dir = tempDir();
    const data = tempDir();
    const positionsFile = join(data, POSITIONS_FILE);
    const file = join(dir, "synthetic-fc10.log");
    writeFileSync(file, lines(0, 3));
    await readAll(follower(dir, { positionsFile }));
    appendFileSync(file, lines(3, 4));
    expect(accessIds((await readAll(follower(dir, { positionsFile }))).entries)).toEqual([3]);
    // Damaged positions: read from the start again, and say so.
    writeFileSync(positionsFile, "{ not json");
    const again = await readAll(follower(dir, { positionsFile }));
    expect(accessIds(again.entries)).toEqual([0, 1, 2, 3]);
    expect(again.status.findings).toEqual([expect.objectContaining({ code: "tracking-position-unreadable" })]);
  });

  it("a 1 GB log is not read again after a restart: only the new lines are (bytes read, sparse file)", async () => {
    const dir = tempDir();
    const data = tempDir();
    const positionsFile = join(data, POSITIONS_FILE);
    const file = join(dir, "synthetic-fc10.log");
    // Real lines, a 1 GiB hole (NUL bytes, no newline: one overlong line), then real lines again.
    writeFileSync(file, lines(0, 2));
    const fd = openSync(file, "r+");
    ftruncateSync(fd, 1 << 30);
    writeSync(fd, `\n${lines(2, 4)}`, 1 << 30);
    closeSync(fd);
    const first = follower(dir, { positionsFile });
    const firstRead = await readAll(first);
    expect(accessIds(firstRead.entries)).toEqual([0, 1, 2, 3]);
    expect(first.bytesRead()).toBeGreaterThan(1 << 30);

    appendFileSync(file, lines(4, 6));
    const restarted = follower(dir, { positionsFile });
    const after = await readAll(restarted);
    expect(accessIds(after.entries)).toEqual([4, 5]);
    expect(restarted.bytesRead()).toBe(Buffer.byteLength(lines(4, 6)));
  });

  it("the tail: the last lines of each file, oldest file first", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.log"), lines(0, 50));
    const log = follower(dir);
    const tail = await log.tail(3);
    expect(tail).toEqual([{ file: join(dir, "a.log"), lines: [release(47), release(48), release(49)] }]);
    mkdirSync(join(dir, "sub"));
    expect((await log.tail(3)).length).toBe(1);
  });
});

import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCodedError } from "../../../src/errors.js";
import {
  type Ledger,
  LedgerCorruptError,
  openLedger,
  quarantineAndCreate,
  SCHEMA_VERSION,
} from "../../../src/ledger/index.js";
import { captureLogs } from "../log-capture.js";
import { hex, sampleBorrow, tempDir, track } from "./helpers.js";

const MARKER = "marker-client-7Q";

interface Populated {
  dir: string;
  file: string;
  secret: Buffer;
  view: string;
}

/** What a daemon reads at start; compared byte for byte after damage. */
function viewOf(ledger: Ledger): string {
  return JSON.stringify({
    outstanding: ledger.listOutstanding(),
    all: ledger.listBorrows(),
    keys: ledger.listKeys(),
    pending: ledger.listPendingOps(),
    secret: ledger.serverSecret().toString("hex"),
    instance: ledger.instanceId,
  });
}

/** A closed ledger (WAL checkpointed into the main file) with enough rows to span many pages. */
function populate(): Populated {
  const dir = tempDir();
  const ledger = openLedger({ dir, clock: () => 1_000 });
  ledger.pinKey("KB-0001", "cd".repeat(32), 1);
  ledger.transaction((tx) => {
    for (let id = 1; id <= 300; id++) {
      tx.insertBorrow(
        sampleBorrow({ id, client: id === 151 ? MARKER : `client-${id}`, state: id % 3 ? "active" : "returned" }),
      );
    }
    tx.beginOp({ opId: hex(16), kind: "borrow", serial: "KB-0001", step: "key-called" });
  });
  const view = viewOf(ledger);
  const secret = ledger.serverSecret();
  ledger.close();
  const file = join(dir, "ledger.db");
  expect(existsSync(`${file}-wal`)).toBe(false);
  return { dir, file, secret, view };
}

function flipByte(file: string, offset: number, mask = 0xff): void {
  const fd = openSync(file, "r+");
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    byte[0] = (byte[0] as number) ^ mask;
    writeSync(fd, byte, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

function pageSizeOf(file: string): number {
  return readFileSync(file).readUInt16BE(16);
}

/** Opens and reads everything the daemon reads at start. */
function openAndRead(dir: string): string {
  const ledger = openLedger({ dir });
  try {
    return viewOf(ledger);
  } finally {
    ledger.close();
  }
}

function expectCorrupt(action: () => unknown, file: string): LedgerCorruptError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerCorruptError);
    expect((error as LedgerCorruptError).code).toBe("LEDGER_CORRUPT");
    expect((error as Error).message).toContain(file);
    return error as LedgerCorruptError;
  }
  throw new Error("expected LEDGER_CORRUPT, nothing was thrown");
}

describe("corruption detection", () => {
  it("detects a file truncated to whole pages", () => {
    const { dir, file } = populate();
    truncateSync(file, pageSizeOf(file) * 4);
    expectCorrupt(() => openAndRead(dir), file);
  });

  it("detects a file truncated mid-page", () => {
    const { dir, file } = populate();
    truncateSync(file, statSync(file).size - 100);
    expect(expectCorrupt(() => openAndRead(dir), file).message).toContain("not a whole number");
  });

  it("detects a bit-flipped header (magic and page size)", () => {
    const first = populate();
    flipByte(first.file, 3);
    expectCorrupt(() => openAndRead(first.dir), first.file);
    const second = populate();
    flipByte(second.file, 16, 0x01);
    expectCorrupt(() => openAndRead(second.dir), second.file);
  });

  it("detects a flipped schema version instead of re-running migrations", () => {
    const { dir, file } = populate();
    flipByte(file, 63, SCHEMA_VERSION); // user_version → 0
    expectCorrupt(() => openAndRead(dir), file);
  });

  it("detects a damaged b-tree page inside the file", () => {
    const { dir, file } = populate();
    const offset = readFileSync(file).indexOf(MARKER);
    const pageSize = pageSizeOf(file);
    const pageStart = Math.floor(offset / pageSize) * pageSize;
    flipByte(file, pageStart + 3, 0x5a); // the page's cell count
    expectCorrupt(() => openAndRead(dir), file);
  });

  it("detects a flipped value that SQLite's own checks accept, and names the row", () => {
    const { dir, file } = populate();
    const offset = readFileSync(file).indexOf(MARKER);
    flipByte(file, offset + 3, 0x01);
    const ledger = track(openLedger({ dir, integrityCheck: "full" })); // structurally the file is fine
    const logs = captureLogs();
    const error = expectCorrupt(() => ledger.listOutstanding(), file);
    expect(error.message).toContain("KB-0001/151");
    expectCorrupt(() => ledger.getBorrow("KB-0001", 151), file);
    expect(ledger.getBorrow("KB-0001", 152)?.client).toBe("client-152");
    // Each detection is logged once, naming the file and the row.
    const logged = logs.matching("error", /^ledger row checksum mismatch$/);
    expect(logged).toHaveLength(2);
    for (const line of logged) expect(line).toMatchObject({ file, rows: [{ serial: "KB-0001", id: 151 }] });
  });

  it("never returns damaged data: a random bit flip is detected or harmless", () => {
    const { dir, file, view } = populate();
    const pristine = readFileSync(file);
    const logs = captureLogs();
    let corruptOutcomes = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: pristine.length - 1 }), fc.integer({ min: 0, max: 7 }), (offset, bit) => {
        for (const leftover of [`${file}-wal`, `${file}-shm`]) rmSync(leftover, { force: true });
        writeFileSync(file, pristine);
        flipByte(file, offset, 1 << bit);
        let after: string;
        try {
          after = openAndRead(dir);
        } catch (error) {
          const code = isCodedError(error) ? error.code : String(error);
          expect(["LEDGER_CORRUPT", "LEDGER_TOO_NEW"], `${code}: ${(error as Error).message}`).toContain(code);
          if (code === "LEDGER_CORRUPT") corruptOutcomes++;
          return;
        }
        expect(after).toBe(view);
      }),
      { numRuns: Number(process.env.LEDGER_FLIP_RUNS ?? 100) },
    );
    // What was logged is a row that failed its checksum, named, for some of the corrupt outcomes (the
    // others SQLite or the structure check found); nothing else.
    for (const line of logs.lines) {
      expect(`${line.level} ${line.message}`).toBe("error ledger row checksum mismatch");
      expect(line.file).toBe(file);
      expect(["rows", "opId", "serial", "key"].some((field) => field in line)).toBe(true);
    }
    expect(logs.lines.length).toBeLessThanOrEqual(corruptOutcomes);
  });
});

describe("quarantineAndCreate", () => {
  it("keeps the bad file under a new name and opens a fresh ledger flagged rebuilt", () => {
    const { dir, file, secret } = populate();
    const offset = readFileSync(file).indexOf(MARKER);
    flipByte(file, offset, 0x01);
    const damaged = readFileSync(file);
    const ledger = track(
      quarantineAndCreate({ dir, reason: "row checksum", clock: () => Date.UTC(2025, 0, 2, 3, 4, 5) }),
    );
    const kept = readdirSync(dir).filter((name) => name.includes(".corrupt-"));
    expect(kept).toContain("ledger.db.corrupt-2025-01-02T03-04-05-000Z");
    expect(kept.every((name) => name.endsWith(".corrupt-2025-01-02T03-04-05-000Z"))).toBe(true);
    expect(readFileSync(join(dir, "ledger.db.corrupt-2025-01-02T03-04-05-000Z")).equals(damaged)).toBe(true);
    expect(ledger.rebuilt).toBe(true);
    expect(ledger.listOutstanding()).toEqual([]);
    // The secret and the pin still verified in the old file, so tags stay derivable.
    expect(ledger.serverSecret().equals(secret)).toBe(true);
    expect(ledger.getPinnedKey("KB-0001")?.publicKey).toBe("cd".repeat(32));
    const entry = ledger.listAudit({ kind: "ledger-rebuilt", limit: 1 })[0];
    expect(entry?.details).toMatchObject({ reason: "row checksum", salvagedSecret: true, salvagedKeys: 1 });
  });

  it("starts with a new secret when the old file is unreadable, and says so", () => {
    const { dir, file, secret } = populate();
    truncateSync(file, 50);
    const ledger = track(quarantineAndCreate(dir));
    expect(ledger.serverSecret().equals(secret)).toBe(false);
    const entry = ledger.listAudit({ kind: "ledger-rebuilt", limit: 1 })[0];
    expect(entry?.details).toMatchObject({ salvagedSecret: false });
    expect(entry?.details.salvageProblems).toEqual(expect.arrayContaining([expect.any(String)]));
    expect(readdirSync(dir).some((name) => name.startsWith("ledger.db.corrupt-"))).toBe(true);
  });
});

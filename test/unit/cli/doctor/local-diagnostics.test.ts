import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { verifyLedger } from "../../../../src/cli/doctor/local-diagnostics.js";
import { openLedger } from "../../../../src/ledger/index.js";
import { describeNeeding, Requirement } from "../../../support/require-tool.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function ledgerWithOneBorrow(): { dir: string; close: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "kb-diagnostics-"));
  dirs.push(dir);
  const ledger = openLedger({ dir });
  const now = Date.now();
  ledger.transaction((tx) =>
    tx.insertBorrow({
      serial: "KB-1",
      id: 1,
      opId: "00".repeat(16),
      product: 7,
      client: "ws-1",
      issuedAt: now,
      expiresAt: now + 86_400_000,
      binding: "11".repeat(32),
      tag: "22".repeat(16),
      state: "active",
    }),
  );
  return { dir, close: () => ledger.close() };
}

describe("verifyLedger (doctor's ledger check)", () => {
  it("leaves no -wal or -shm behind for a stopped daemon (root-owned ones would lock the service out)", async () => {
    const { dir, close } = ledgerWithOneBorrow();
    close();
    expect(readdirSync(dir).sort()).toEqual(["ledger.db"]);
    expect(await verifyLedger(dir)).toEqual({ outstanding: 1 });
    expect(readdirSync(dir).sort()).toEqual(["ledger.db"]);
  });

  it("reads the ledger in place while the daemon holds it open, commits in its WAL included", async () => {
    const { dir, close } = ledgerWithOneBorrow();
    try {
      expect(readdirSync(dir).sort()).toEqual(["ledger.db", "ledger.db-shm", "ledger.db-wal"]);
      expect(await verifyLedger(dir)).toEqual({ outstanding: 1 });
    } finally {
      close();
    }
  });

  it("says there is nothing to check when there is no ledger yet", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-diagnostics-"));
    dirs.push(dir);
    expect(await verifyLedger(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });
});

// The worker runs compiled JavaScript, so these use the build (`npm run build`).
const built = resolve("dist/src/cli/doctor/local-diagnostics.js");
const build = Requirement.build(built);

type VerifyLedger = (dir: string, signal?: AbortSignal) => Promise<{ outstanding: number } | undefined>;
const builtVerify = async (): Promise<VerifyLedger> =>
  ((await import(pathToFileURL(built).href)) as { verifyLedger: VerifyLedger }).verifyLedger;

/** A stopped daemon's ledger with `rows` outstanding borrows: enough that checking it takes a while. */
function bigLedger(rows: number): string {
  const dir = mkdtempSync(join(tmpdir(), "kb-diagnostics-"));
  dirs.push(dir);
  const ledger = openLedger({ dir });
  const now = Date.now();
  ledger.transaction((tx) => {
    for (let id = 1; id <= rows; id++) {
      tx.insertBorrow({
        serial: "KB-1",
        id,
        opId: id.toString(16).padStart(32, "0"),
        product: 7,
        client: `ws-${id}`,
        issuedAt: now,
        expiresAt: now + 86_400_000,
        binding: "11".repeat(32),
        tag: id.toString(16).padStart(32, "0"),
        state: "active",
      });
    }
  });
  ledger.close();
  return dir;
}

describeNeeding(build, "verifyLedger on a worker thread (the build)", () => {
  it("checks the ledger there and gives the same answer as inline", async () => {
    const verify = await builtVerify();
    const dir = bigLedger(300);
    expect(await verify(dir)).toEqual({ outstanding: 300 });
    expect(readdirSync(dir)).toEqual(["ledger.db"]);
  });

  it("raises a damaged ledger as the ledger's own LEDGER_CORRUPT error", async () => {
    const verify = await builtVerify();
    const dir = bigLedger(300);
    const file = join(dir, "ledger.db");
    const bytes = readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    bytes.fill(0x5a, pageSize * 2, pageSize * 3);
    writeFileSync(file, bytes);
    const { LedgerCorruptError } = (await import(pathToFileURL(resolve("dist/src/ledger/errors.js")).href)) as {
      LedgerCorruptError: new (...args: never[]) => Error;
    };
    const failure = await verify(dir).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(LedgerCorruptError);
    expect(failure).toMatchObject({ code: "LEDGER_CORRUPT" });
  });

  it("stops when its time is up, and leaves no private copy of the ledger behind", async () => {
    const verify = await builtVerify();
    const dir = bigLedger(20_000);
    const scratch = mkdtempSync(join(tmpdir(), "kb-diagnostics-tmp-"));
    dirs.push(scratch);
    const tmpBefore = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
    try {
      const controller = new AbortController();
      const reason = new Error("out of time");
      const pending = verify(dir, controller.signal);
      setTimeout(() => controller.abort(reason), 1);
      await expect(pending).rejects.toBe(reason);
      expect(readdirSync(scratch)).toEqual([]);
      expect(readdirSync(dir)).toEqual(["ledger.db"]);
      const already = new AbortController();
      already.abort(reason);
      await expect(verify(dir, already.signal)).rejects.toBe(reason);
    } finally {
      if (tmpBefore === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpBefore;
    }
  });
});

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { type Ledger, type NewBorrow, type OpenLedgerOptions, openLedger } from "../../../src/ledger/index.js";

const dirs: string[] = [];
const open: Ledger[] = [];

afterEach(() => {
  for (const ledger of open.splice(0)) ledger.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh parent directory; the ledger directory inside it does not exist yet. */
export function tempDir(): string {
  const parent = mkdtempSync(join(tmpdir(), "keybridge-ledger-"));
  dirs.push(parent);
  return join(parent, "data");
}

export function track(ledger: Ledger): Ledger {
  open.push(ledger);
  return ledger;
}

/** A clock the test moves by hand, so no assertion depends on the wall clock. */
export function manualClock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): void } {
  let current = start;
  return {
    now: () => current,
    advance(ms: number) {
      current += ms;
    },
  };
}

export function openTracked(options: Partial<OpenLedgerOptions> & { dir: string }): Ledger {
  return track(openLedger({ clock: manualClock().now, ...options }));
}

export function hex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

let nextId = 1;

export function sampleBorrow(overrides: Partial<NewBorrow> = {}): NewBorrow {
  return {
    serial: "KB-0001",
    id: nextId++,
    opId: hex(16),
    product: 7,
    client: "workstation-12",
    issuedAt: 1_700_000_000_000,
    expiresAt: 1_700_000_000_000 + 30 * 86_400_000,
    binding: hex(32),
    tag: hex(16),
    state: "active",
    ...overrides,
  };
}

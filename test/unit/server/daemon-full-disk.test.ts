import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openBridge } from "../../../src/bridge/open.js";
import { CONFIG_DEFAULTS, type KeybridgeConfig } from "../../../src/config/index.js";
import { startDaemon } from "../../../src/server/daemon.js";
import { fillLedger } from "../bridge/full-ledger.js";

/** The file system refuses new data for daemon.json, as a full disk does (ENOSPC). */
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const writeFileSync: typeof fs.writeFileSync = (file, ...rest) => {
    if (String(file).includes("daemon.json")) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, open '${String(file)}'`), {
        code: "ENOSPC",
        errno: -28,
      });
    }
    return fs.writeFileSync(file, ...rest);
  };
  return { ...fs, default: { ...fs, writeFileSync }, writeFileSync };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-full-disk-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const config = (dataDir: string): KeybridgeConfig => ({
  ...CONFIG_DEFAULTS,
  dataDir,
  listen: "127.0.0.1:0",
  mode: "virtual",
  logLevel: "error",
  hostPollMs: 50,
});

describe("a daemon on a full disk", () => {
  it("starts without daemon.json and serves status, risks and preflight; a borrow is 503 LEDGER_DISK_FULL", async () => {
    const before = await openBridge({ dataDir: dir, mode: "virtual" });
    const held = await before.borrow({ product: 1001, client: "held" });
    fillLedger(before.testSeams.ledger);
    await before.close();
    const size = statSync(join(dir, "ledger.db")).size;

    const daemon = await startDaemon({
      config: config(dir),
      openBridge: (options, dataDirLock) =>
        openBridge(options, { ledgerMaxSizeBytes: size, driftCheckInBackground: true, dataDirLock }),
    });
    try {
      const token = readFileSync(join(dir, "api-token"), "utf8").trim();
      const call = (path: string, init: RequestInit = {}) =>
        fetch(`${daemon.url}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        });
      const status = await call("/v1/status");
      expect(status.status).toBe(200);
      expect(((await status.json()) as { borrows: { id: number }[] }).borrows.map((b) => b.id)).toEqual([held.id]);
      expect((await call("/v1/preflight/unplug-key")).status).toBe(200);

      const refused = await call("/v1/borrows", {
        method: "POST",
        body: JSON.stringify({ product: 1003, client: "refused" }),
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("30");
      expect(await refused.json()).toMatchObject({ code: "LEDGER_DISK_FULL" });

      await vi.waitFor(async () => {
        const risks = (await (await call("/v1/risks")).json()) as { kind: string }[];
        expect(risks.map((risk) => risk.kind)).toContain("ledger-unwritable");
      });
      expect((await (await call("/v1/status")).json()) as { ledger: unknown }).toMatchObject({
        ledger: { healthy: false, problem: expect.stringContaining("cannot be written") },
      });
    } finally {
      await daemon.stop();
    }
  });
});

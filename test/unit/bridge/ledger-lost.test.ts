import { copyFileSync, existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { closeBridge, demoKey, openVirtual, tempDataDir } from "./helpers.js";

describe("the ledger file deleted or replaced while the bridge runs", () => {
  it("deleted: noticed, writes refused, a risk says what to do, the open copy is written back and a restart finds every borrow", async () => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir, hostPollMs: 50 });
    const first = await bridge.borrow({ product: 1001, client: "ws-1" });
    const file = join(dataDir, "ledger.db");
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });

    await vi.waitFor(() => expect(bridge.risks().map((risk) => risk.kind)).toContain("ledger-lost"));
    const risk = bridge.risks().find((candidate) => candidate.kind === "ledger-lost");
    expect(risk).toMatchObject({ severity: "critical" });
    await vi.waitFor(() =>
      expect(bridge.risks().find((r) => r.kind === "ledger-lost")?.message).toMatch(/nothing is lost/),
    );
    expect(bridge.risks().find((r) => r.kind === "ledger-lost")?.advice).toMatch(/Restart keybridge/);
    const status = await bridge.status();
    expect(status.ledger.healthy).toBe(false);
    expect(status.ledger.problem).toMatch(/was deleted while keybridge runs.*What to do: Restart keybridge/);
    expect(existsSync(file)).toBe(true);

    // Nothing is recorded into a file the next start would not open, so nothing is given out either.
    await expect(bridge.borrow({ product: 1001, client: "ws-2" })).rejects.toMatchObject({ code: "LEDGER_FILE_LOST" });
    expect(demoKey(bridge).state.borrows.map((record) => record.client)).toEqual(["ws-1"]);

    await closeBridge(bridge);
    const restarted = await openVirtual({ dataDir });
    expect((await restarted.borrows()).map((view) => view.id)).toEqual([first.id]);
    expect((await restarted.getBorrow(first.id, { serial: "KB-DEMO-0001" })).state).toBe("active");
    expect((await restarted.status()).ledger.healthy).toBe(true);
    await restarted.returnBorrow(first.id);
  });

  it("replaced by another file: the open ledger is saved beside it and the risk names both", async () => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir, hostPollMs: 50 });
    await bridge.borrow({ product: 1001, client: "ws-1" });
    const file = join(dataDir, "ledger.db");
    copyFileSync(file, join(dataDir, "other.db"));
    renameSync(join(dataDir, "other.db"), file);

    await vi.waitFor(() =>
      expect(bridge.risks().find((risk) => risk.kind === "ledger-lost")?.message).toMatch(/saved to .*open-copy/),
    );
    const risk = bridge.risks().find((candidate) => candidate.kind === "ledger-lost");
    const copy = /saved to (\S+?\.open-copy-\d+)/.exec(risk?.message ?? "")?.[1];
    expect(copy !== undefined && existsSync(copy)).toBe(true);
    expect(risk?.advice).toContain(`move ${copy} to ${file}`);
    await expect(bridge.borrow({ product: 1001, client: "ws-2" })).rejects.toMatchObject({ code: "LEDGER_FILE_LOST" });
  });
});

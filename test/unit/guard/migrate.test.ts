import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { closeGuarded, openGuarded, SERIAL, tempDir } from "./helpers.js";

describe("migrate", () => {
  it("rebinds after an IP change, reports already-current on a rerun, and the return makes no dummy", async () => {
    const bridge = await openGuarded();
    const a = await bridge.borrow({ product: 1001, client: "ws-a" });
    const b = await bridge.borrow({ product: 1003, client: "ws-b" });
    await bridge.virtual?.setHost({ ip: "198.51.100.4" });

    const first = await bridge.migrate();
    expect(first.items.map((item) => [item.borrowId, item.outcome])).toEqual([
      [a.id, "rebound"],
      [b.id, "rebound"],
    ]);
    expect(first.rebound).toBe(2);
    expect(first.failed).toBe(0);

    const again = await bridge.migrate();
    expect(again.items.map((item) => item.outcome)).toEqual(["already-current", "already-current"]);
    expect(again.rebound).toBe(0);

    await bridge.returnBorrow(a.id);
    await bridge.returnBorrow(b.id);
    const status = await bridge.status();
    expect(status.dummies).toEqual([]);
    const rebinds = await bridge.audit({ kind: "rebind", limit: 10 });
    expect(rebinds).toHaveLength(2);
    expect(bridge.testSeams.ledger.listPendingOps()).toEqual([]);
  });

  it("completes a rebind left pending by an interrupted run, replaying its opId", async () => {
    const bridge = await openGuarded();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-a" });
    await bridge.virtual?.setHost({ hostname: "renamed" });
    const row = bridge.testSeams.index.get(SERIAL, borrow.id);
    if (row === undefined) throw new Error("borrow not indexed");
    // The journal entry an interrupted run leaves behind (crash point rebind.after-journal).
    await bridge.testSeams.ledger.commit((tx) =>
      tx.beginOp({
        opId: "ab".repeat(16),
        kind: "rebind",
        serial: SERIAL,
        borrowId: borrow.id,
        step: "journaled",
        details: { oldBinding: row.binding, newBinding: bridge.testSeams.binding() },
      }),
    );
    const view = await bridge.migrate();
    expect(view.items[0]?.outcome).toBe("rebound");
    expect(bridge.testSeams.ledger.getOp("ab".repeat(16))?.outcome).toBe("done");
    await bridge.returnBorrow(borrow.id);
    expect((await bridge.status()).dummies).toEqual([]);
  });

  it("skips borrows on a key that is not attached and rebinds them once it is back", async () => {
    const bridge = await openGuarded();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-a" });
    await bridge.virtual?.unplug(SERIAL);
    await bridge.virtual?.setHost({ ip: "198.51.100.9" });
    const skipped = await bridge.migrate();
    expect(skipped.items[0]).toMatchObject({ borrowId: borrow.id, outcome: "skipped" });
    await bridge.virtual?.plug(SERIAL);
    const done = await bridge.migrate();
    expect(done.items[0]?.outcome).toBe("rebound");
  });

  it("the key refuses a rebind whose proof is wrong: no borrow can be multiplied", async () => {
    const bridge = await openGuarded();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-a" });
    await bridge.virtual?.setHost({ ip: "198.51.100.5" });
    // A ledger whose tag is not the one the key holds (a forged or lost ledger).
    const row = bridge.testSeams.index.get(SERIAL, borrow.id);
    if (row === undefined) throw new Error("borrow not indexed");
    bridge.testSeams.index.put({ ...row, tag: "00".repeat(16) });
    const view = await bridge.migrate();
    expect(view.items[0]?.outcome).toBe("refused");
    expect(view.failed).toBe(1);
  });

  it("works on a new host after ledger export and import, with the key moved over", async () => {
    const oldDir = tempDir();
    const oldHost = await openGuarded({ dataDir: oldDir });
    const borrow = await oldHost.borrow({ product: 1001, client: "ws-away" });
    const exportFile = join(tempDir(), "ledger-export.json");
    await oldHost.exportLedger(exportFile);
    await closeGuarded(oldHost);

    // The key goes to the new computer: its virtual state file moves with it.
    const newDir = tempDir();
    mkdirSync(join(newDir, "virtual"), { recursive: true });
    copyFileSync(join(oldDir, "virtual", `${SERIAL}.key.json`), join(newDir, "virtual", `${SERIAL}.key.json`));
    const newHost = await openGuarded({ dataDir: newDir });
    await newHost.importLedger(exportFile);
    expect((await newHost.borrows()).map((view) => view.id)).toEqual([borrow.id]);

    const view = await newHost.migrate();
    expect(view.items[0]).toMatchObject({ borrowId: borrow.id, outcome: "rebound" });
    await newHost.returnBorrow(borrow.id);
    const status = await newHost.status();
    expect(status.dummies).toEqual([]);
    expect(status.borrows).toEqual([]);
  });
});

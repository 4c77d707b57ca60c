import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { closeBridge, openVirtual, tempDataDir } from "./helpers.js";

describe("virtual keys across a daemon restart", () => {
  it("a key unplugged before the restart is still out after it, with its borrow at risk; plugged back, it stays in", async () => {
    const dataDir = tempDataDir();
    const first = await openVirtual({ dataDir });
    const borrow = await first.borrow({ product: 1001, client: "ws-restart" });
    await first.virtual!.unplug("KB-DEMO-0001");
    await closeBridge(first);

    const second = await openVirtual({ dataDir });
    expect((await second.virtual!.keys()).map((key) => [key.serial, key.plugged])).toEqual([["KB-DEMO-0001", false]]);
    expect((await second.keys()).find((key) => key.serial === "KB-DEMO-0001")?.present).toBe(false);
    await expect(second.returnBorrow(borrow.id)).rejects.toMatchObject({ code: "KEY_ABSENT" });
    await second.virtual!.plug("KB-DEMO-0001");
    await closeBridge(second);

    const third = await openVirtual({ dataDir });
    expect((await third.keys()).find((key) => key.serial === "KB-DEMO-0001")?.present).toBe(true);
    expect((await third.returnBorrow(borrow.id)).outcome).toBe("returned");
  });

  it("an unreadable record of unplugged keys starts every key plugged in rather than failing", async () => {
    const dataDir = tempDataDir();
    await closeBridge(await openVirtual({ dataDir }));
    writeFileSync(join(dataDir, "virtual", "unplugged.json"), "{not json");
    const bridge = await openVirtual({ dataDir });
    expect((await bridge.virtual!.keys()).every((key) => key.plugged)).toBe(true);
  });

  it("a record that cannot be written refuses the unplug and changes nothing", async () => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir });
    // A directory where the temporary file goes: the write fails whoever runs the test (root too).
    mkdirSync(join(dataDir, "virtual", "unplugged.json.tmp"));
    await expect(bridge.virtual!.unplug("KB-DEMO-0001")).rejects.toMatchObject({ code: "VIRTUAL_STATE_UNWRITABLE" });
    expect((await bridge.virtual!.keys())[0]?.plugged).toBe(true);
    expect((await bridge.keys())[0]?.present).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { openVirtual } from "./helpers.js";

const LICENSES = [{ product: 1001, seats: 10, borrowable: 4, borrowDays: 30 }];

describe("the audit trail through the bridge", () => {
  it("records a forced license update with the key and the borrows it turned into dummies, newest first", async () => {
    const bridge = await openVirtual();
    const before = new Date(Date.now() - 1000).toISOString();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-audit" });
    await bridge.licenseUpdate("KB-DEMO-0001", LICENSES, { force: true });
    await bridge.licenseUpdate("KB-DEMO-0001", LICENSES);

    const all = await bridge.audit();
    expect(all.map((entry) => entry.id)).toEqual([...all.map((entry) => entry.id)].sort((a, b) => b - a));
    const forced = await bridge.audit({ kind: "license-update-forced" });
    expect(forced).toHaveLength(1);
    expect(forced[0]).toMatchObject({ kind: "license-update-forced", serial: "KB-DEMO-0001" });
    expect(Date.parse(forced[0]!.at)).toBeGreaterThanOrEqual(Date.parse(before));
    expect(JSON.stringify(forced[0]!.details)).toContain(String(borrow.id));
    expect((await bridge.audit({ serial: "KB-DEMO-0001" })).map((entry) => entry.kind)).toEqual([
      "license-update",
      "license-update-forced",
    ]);
    expect(await bridge.audit({ serial: "KB-NONE" })).toEqual([]);
    expect(await bridge.audit({ since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    const newest = await bridge.audit({ limit: 1 });
    expect(await bridge.audit({ before: newest[0]!.id, limit: 1 })).toEqual([all[1]]);
  });

  it("refuses a query it cannot answer as asked, naming the field", async () => {
    const bridge = await openVirtual();
    await expect(bridge.audit({ limit: 0 })).rejects.toMatchObject({ code: "VALIDATION", field: "limit" });
    await expect(bridge.audit({ limit: 1001 })).rejects.toMatchObject({ code: "VALIDATION", field: "limit" });
    await expect(bridge.audit({ since: "last tuesday" })).rejects.toMatchObject({ field: "since" });
    await expect(bridge.audit({ before: 0 })).rejects.toMatchObject({ field: "before" });
  });
});

import { describe, expect, it } from "vitest";
import { LicenseUpdateBlockedError, validateLicenses } from "../../../src/bridge/guard/index.js";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { openGuarded, SERIAL } from "./helpers.js";

async function licenseSetVersion(bridge: OpenedBridge): Promise<number | undefined> {
  return (await bridge.keys()).find((key) => key.serial === SERIAL)?.licenseSetVersion;
}

const UPGRADE = [
  { product: 1001, seats: 20, borrowable: 8, borrowDays: 30 },
  { product: 1002, seats: 5, borrowable: 2, borrowDays: 14 },
];

describe("license-update guard", () => {
  it("refuses while borrows are out, naming each borrow and the last expiry, and changes nothing", async () => {
    const bridge = await openGuarded();
    const a = await bridge.borrow({ product: 1001, client: "ws-a" });
    const b = await bridge.borrow({ product: 1002, client: "ws-b", days: 7 });
    const versionBefore = await licenseSetVersion(bridge);
    const error = await bridge.licenseUpdate(SERIAL, UPGRADE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LicenseUpdateBlockedError);
    expect(error).toMatchObject({ code: "BORROWS_OUTSTANDING", details: { borrowIds: [a.id, b.id] } });
    const message = (error as Error).message;
    expect(message).toContain('client "ws-a"');
    expect(message).toContain('client "ws-b"');
    expect(message).toContain(a.expiresAt.slice(0, 10));
    expect(await licenseSetVersion(bridge)).toBe(versionBefore);
    expect((await bridge.borrows()).map((view) => view.state)).toEqual(["active", "active"]);
    expect(await bridge.audit({ kind: "license-update-refused", limit: 5 })).toHaveLength(1);
  });

  it("updates at once when nothing is borrowed", async () => {
    const bridge = await openGuarded();
    const before = (await licenseSetVersion(bridge)) ?? 0;
    const view = await bridge.licenseUpdate(SERIAL, UPGRADE);
    expect(view).toMatchObject({ serial: SERIAL, forced: false, dummiesCreated: [] });
    expect(view.licenseSetVersion).toBe(before + 1);
    const licenses = (await bridge.keys())[0]?.licenses ?? [];
    expect(licenses.find((l) => l.product === 1001)?.seats).toBe(20);
    expect(licenses.some((l) => l.product === 1003)).toBe(false);
  });

  it("forced: the borrows become dummies in the ledger, are audited, listed and block their product", async () => {
    const bridge = await openGuarded();
    const a = await bridge.borrow({ product: 1001, client: "ws-a" });
    const view = await bridge.licenseUpdate(SERIAL, UPGRADE, { force: true });
    expect(view.forced).toBe(true);
    expect(view.dummiesCreated.map((d) => [d.id, d.state])).toEqual([[a.id, "dummy"]]);
    expect(view.dummiesCreated[0]?.dummyUntil).toBeDefined();

    expect((await bridge.getBorrow(a.id, { serial: SERIAL })).state).toBe("dummy");
    const audit = await bridge.audit({ kind: "license-update-forced", limit: 5 });
    expect(audit).toHaveLength(1);
    expect(audit[0]?.message).toContain('client "ws-a"');
    expect(audit[0]?.details.dummies).toEqual([expect.objectContaining({ id: a.id, client: "ws-a", product: 1001 })]);

    const status = await bridge.status();
    expect(status.dummies).toEqual([
      expect.objectContaining({ serial: SERIAL, product: 1001, borrowId: a.id, blocksProduct: true }),
    ]);
    const reconcile = await bridge.reconcile();
    expect(reconcile.dummies.map((d) => [d.product, d.blocksProduct])).toEqual([[1001, true]]);
    await expect(bridge.borrow({ product: 1001, client: "ws-c" })).rejects.toMatchObject({ code: "NO_BORROWABLE" });
  });

  it.each([
    ["a duplicate product", [UPGRADE[0], UPGRADE[0]], "licenses[1].product"],
    ["borrowable above seats", [{ product: 1, seats: 2, borrowable: 3, borrowDays: 30 }], "licenses[0].borrowable"],
    ["borrowDays 0", [{ product: 1, seats: 2, borrowable: 1, borrowDays: 0 }], "licenses[0].borrowDays"],
    ["borrowDays 366", [{ product: 1, seats: 2, borrowable: 1, borrowDays: 366 }], "licenses[0].borrowDays"],
    ["a negative seat count", [{ product: 1, seats: -1, borrowable: 0, borrowDays: 30 }], "licenses[0].seats"],
    ["a fractional product", [{ product: 1.5, seats: 1, borrowable: 0, borrowDays: 30 }], "licenses[0].product"],
  ])("rejects %s as a validation error before touching the key", async (_name, licenses, field) => {
    const bridge = await openGuarded();
    const before = await licenseSetVersion(bridge);
    await expect(bridge.licenseUpdate(SERIAL, licenses as typeof UPGRADE, { force: true })).rejects.toMatchObject({
      code: "VALIDATION",
      details: { field },
    });
    expect(await licenseSetVersion(bridge)).toBe(before);
  });

  it("accepts the license file's shape and the edges of the ranges", () => {
    expect(
      validateLicenses({ licenses: [{ product: 0xffff_ffff, seats: 3, borrowable: 3, borrowDays: 365 }] }),
    ).toEqual([{ product: 0xffff_ffff, seats: 3, borrowable: 3, borrowDays: 365 }]);
    expect(() => validateLicenses({ licences: [] })).toThrow(/expected/);
  });

  it("an unknown serial is KEY_NOT_FOUND", async () => {
    const bridge = await openGuarded();
    await expect(bridge.licenseUpdate("KB-NOPE", UPGRADE)).rejects.toMatchObject({ code: "KEY_NOT_FOUND" });
  });
});

import { describe, expect, it } from "vitest";
import { openGuarded, riskCleared, riskKinds, riskRaised, SERIAL, world } from "./helpers.js";

describe("risks on the virtual bridge", () => {
  it("a physical unplug with a borrow out raises key-unplugged; the replug clears it", async () => {
    const bridge = await openGuarded();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-17" });
    const raised = riskRaised(bridge, "key-unplugged");
    world(bridge).bus.unplug(SERIAL);
    const event = await raised;
    expect(event.risk?.borrowIds).toEqual([borrow.id]);
    expect(event.risk?.message).toContain('client "ws-17"');
    expect((await bridge.status()).risks.map((risk) => risk.kind)).toEqual(["key-unplugged"]);
    const cleared = riskCleared(bridge, "key-unplugged");
    world(bridge).bus.plug(SERIAL);
    await cleared;
    expect(riskKinds(bridge)).toEqual([]);
  });

  it("an unplug with nothing borrowed raises nothing", async () => {
    const bridge = await openGuarded();
    await bridge.virtual?.unplug(SERIAL);
    expect(riskKinds(bridge)).toEqual([]);
  });

  it("an IP change raises host-ip-changed; migrate clears it and the return leaves no dummy", async () => {
    const bridge = await openGuarded();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-1" });
    const raised = riskRaised(bridge, "host-ip-changed");
    await bridge.virtual?.setHost({ ip: "192.0.2.77" });
    expect((await raised).risk?.advice).toContain("keybridge migrate");
    await expect(bridge.returnBorrow(borrow.id)).rejects.toMatchObject({ code: "BINDING_MISMATCH" });
    const cleared = riskCleared(bridge, "host-ip-changed");
    const migration = await bridge.migrate();
    expect(migration.rebound).toBe(1);
    await cleared;
    await bridge.returnBorrow(borrow.id);
    const status = await bridge.status();
    expect(status.dummies).toEqual([]);
    expect(status.borrows).toEqual([]);
  });

  it("a wiped registry raises registry-lost within a poll; reconcile --repair restores it and clears the risk", async () => {
    const bridge = await openGuarded();
    await bridge.borrow({ product: 1001, client: "ws-1" });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const raised = riskRaised(bridge, "registry-lost");
    await bridge.virtual?.wipeRegistry();
    await raised;
    const cleared = riskCleared(bridge, "registry-lost");
    await bridge.repair();
    await cleared;
    expect(riskKinds(bridge)).toEqual([]);
  });

  it("a refused license update keeps license-update-pending open until the borrow is returned", async () => {
    const bridge = await openGuarded();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-1" });
    const raised = riskRaised(bridge, "license-update-pending");
    await expect(
      bridge.licenseUpdate(SERIAL, [{ product: 1001, seats: 20, borrowable: 8, borrowDays: 30 }]),
    ).rejects.toMatchObject({ code: "BORROWS_OUTSTANDING" });
    await raised;
    const cleared = riskCleared(bridge, "license-update-pending");
    await bridge.returnBorrow(borrow.id);
    await cleared;
  });
});

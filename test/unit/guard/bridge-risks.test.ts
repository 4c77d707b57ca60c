import { join } from "node:path";
import { Subject } from "rxjs";
import { describe, expect, it } from "vitest";
import { type ClockJumpEvent, SIMULATED_HOST_FILE, SimulatedHostProbe } from "../../../src/host/index.js";
import { closeGuarded, openGuarded, riskCleared, riskKinds, riskRaised, SERIAL, tempDir, world } from "./helpers.js";

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

describe("risks from the clock and from a restart", () => {
  it("a clock jump reported by the clock monitor raises clock-jump; the jump back clears it", async () => {
    const jumps = new Subject<ClockJumpEvent>();
    const bridge = await openGuarded({}, { clockJumps$: jumps });
    await bridge.borrow({ product: 1001, client: "ws-1" });
    const jump = (direction: "forward" | "backward"): ClockJumpEvent => ({
      type: "clock.jump",
      at: new Date(),
      direction,
      jumpMs: 2 * 3_600_000,
      acrossRestart: false,
    });
    jumps.next(jump("backward"));
    expect(riskKinds(bridge)).toEqual(["clock-jump"]);
    jumps.next(jump("forward"));
    expect(riskKinds(bridge)).toEqual([]);
  });

  it("after a restart on a changed IP, the borrows bound to the old identity raise key-moved at once", async () => {
    const dataDir = tempDir();
    const first = await openGuarded({ dataDir });
    await first.borrow({ product: 1001, client: "ws-1" });
    await closeGuarded(first);
    const host = await SimulatedHostProbe.open({ statePath: join(dataDir, SIMULATED_HOST_FILE) });
    await host.setIp("192.0.2.250");
    const second = await openGuarded({ dataDir });
    expect(riskKinds(second)).toEqual(["key-moved"]);
    await second.migrate();
    expect(riskKinds(second)).toEqual([]);
  });
});

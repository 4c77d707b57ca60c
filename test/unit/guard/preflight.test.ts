import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PREFLIGHT_ACTIONS, type PreflightAction } from "../../../src/reconcile/index.js";
import { openGuarded, riskKinds, tempDir, world } from "./helpers.js";

describe("preflight against the live bridge", () => {
  it("says every action is safe with nothing borrowed", async () => {
    const bridge = await openGuarded();
    for (const action of PREFLIGHT_ACTIONS) {
      const view = await bridge.preflight(action);
      expect(view).toMatchObject({ action, safe: true, reasons: [], borrows: [] });
    }
  });

  it("with a borrow out, only restarting the service is safe, and each unsafe verdict names the borrow", async () => {
    const bridge = await openGuarded();
    const borrow = await bridge.borrow({ product: 1001, client: "ws-17" });
    const verdicts = new Map<PreflightAction, boolean>();
    for (const action of PREFLIGHT_ACTIONS) {
      const view = await bridge.preflight(action);
      verdicts.set(action, view.safe);
      if (!view.safe) {
        expect(view.reasons.join(" ")).toContain('"ws-17"');
        expect(view.borrows).toEqual([
          {
            source: "keybridge",
            serial: borrow.serial,
            id: borrow.id,
            product: 1001,
            client: "ws-17",
            expiresAt: borrow.expiresAt,
          },
        ]);
        expect(view.lastEndsAt).toBe(borrow.expiresAt);
        expect(view.advice.length).toBeGreaterThan(0);
      }
    }
    expect(Object.fromEntries(verdicts)).toEqual({
      "upgrade-licenses": false,
      "install-major-version": false,
      "unplug-key": false,
      "move-key": false,
      "uninstall-driver": false,
      "reinstall-os": false,
      "change-ip": false,
      "restart-service": true,
      "change-hostname": false,
    });
  });

  it("after a ledger export, the registry-losing actions become safe; binding changes and upgrades do not", async () => {
    const bridge = await openGuarded();
    await bridge.borrow({ product: 1001, client: "ws-17" });
    await bridge.exportLedger(join(tempDir(), "export.json"));
    const safe = async (action: PreflightAction) => (await bridge.preflight(action)).safe;
    expect(await safe("uninstall-driver")).toBe(true);
    expect(await safe("reinstall-os")).toBe(true);
    expect(await safe("install-major-version")).toBe(true);
    expect(await safe("change-ip")).toBe(false);
    expect(await safe("upgrade-licenses")).toBe(false);
    expect(await safe("unplug-key")).toBe(false);
  });

  it("an unknown action is a usage error", async () => {
    const bridge = await openGuarded({ hostPollMs: 60_000 });
    await expect(bridge.preflight("format-disk" as PreflightAction)).rejects.toMatchObject({
      code: "UNKNOWN_PREFLIGHT_ACTION",
    });
  });

  it("probes the host before answering, so a change made a moment ago is seen", async () => {
    const bridge = await openGuarded({ hostPollMs: 60_000 });
    await bridge.borrow({ product: 1001, client: "ws-17" });
    await world(bridge).host.setIp("203.0.113.5");
    expect(riskKinds(bridge)).toEqual([]);
    await bridge.preflight("change-ip");
    expect(riskKinds(bridge)).toEqual(["host-ip-changed"]);
  });
});

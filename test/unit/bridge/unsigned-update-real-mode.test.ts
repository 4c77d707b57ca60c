/**
 * In real mode the bridge has no vendor to sign for it: a key that takes only vendor-signed
 * updates refuses a bare license set, before anything is sent, and the daemon answers 409.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createNodeHidStandIn, createUsbStandIn, VirtualBus } from "../../../native-mocks/index.js";
import { type OpenedBridge, openBridge } from "../../../src/bridge/open.js";
import { encodeLicenseUpdateFile } from "../../../src/protocol/index.js";
import { STATUS_BY_CODE } from "../../../src/server/problem.js";
import { virtualHidBackend } from "../../../src/transport/backend.js";
import { newTestVendor } from "../../conformance/vendor.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LICENSES = [{ product: 1001, seats: 10, borrowable: 4, borrowDays: 30 }];

describe("a license update in real mode", () => {
  it("a bare set is refused with KEY_UPDATE_NOT_SIGNED (409) and the key keeps its licenses; a signed file applies", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "kb-real-unsigned-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const bus = new VirtualBus();
    cleanups.push(() => bus.close());
    const vendor = newTestVendor();
    const key = bus.createKey({ serial: "KB-REAL-0001", licenses: LICENSES, vendorPublicKey: vendor.publicKey });
    const bridge: OpenedBridge = await openBridge(
      { dataDir, mode: "real", hostPollMs: 60_000, clockCheckMs: 60_000 },
      {
        hotplugDebounceMs: 5,
        // Real mode's bridge (no virtual world, so no signer), with the bus standing in for USB.
        wrapBackend: () => virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus)),
      },
    );
    cleanups.push(() => bridge.close());
    expect(bridge.testSeams.world).toBeUndefined();
    expect((await bridge.keys()).find((view) => view.serial === "KB-REAL-0001")?.present).toBe(true);
    const sent = key.counters.toKey;
    const refused = await bridge
      .licenseUpdate("KB-REAL-0001", [{ product: 1001, seats: 99, borrowable: 4, borrowDays: 30 }])
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "KEY_UPDATE_NOT_SIGNED" });
    expect((refused as Error).message).toMatch(/signed by its vendor/);
    expect(STATUS_BY_CODE.KEY_UPDATE_NOT_SIGNED?.status).toBe(409);
    expect(key.counters.toKey - sent).toBe(0);
    expect(key.state.licenses.map(({ product, seats }) => [product, seats])).toEqual([[1001, 10]]);

    // The preview says so too, and names no counter: nothing here would sign the set.
    const preview = await bridge.previewLicenseUpdate("KB-REAL-0001", [
      { product: 1001, seats: 99, borrowable: 4, borrowDays: 30 },
    ]);
    expect(preview).toMatchObject({ signed: false, counter: null, keyCounter: 0 });
    expect(preview.refusal?.code).toBe("KEY_UPDATE_NOT_SIGNED");

    // What a real key takes: the file its vendor signed.
    const upgrade = [{ product: 1001, seats: 99, borrowable: 4, borrowDays: 30 }];
    const file = encodeLicenseUpdateFile(vendor.sign({ serial: "KB-REAL-0001", counter: 1, licenses: upgrade }));
    expect((await bridge.previewLicenseUpdate("KB-REAL-0001", file)).refusal).toBeNull();
    await expect(bridge.licenseUpdate("KB-REAL-0001", file)).resolves.toMatchObject({ updateCounter: 1 });
    expect(key.state.licenses.map(({ product, seats }) => [product, seats])).toEqual([[1001, 99]]);
  });
});

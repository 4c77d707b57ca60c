/**
 * Virtual mode's demo vendor: one Ed25519 key pair per data directory (none in the repository),
 * stored 0600, with which every virtual key is provisioned and license updates are signed.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileKeyStore } from "../../../native-mocks/key-store.js";
import { toHex, vendorPublicKeyFromText, vendorSecretFromPem } from "../../../src/protocol/index.js";
import { closeBridge, demoKey, openVirtual, tempDataDir } from "./helpers.js";

describe("the demo vendor of a virtual data directory", () => {
  it("is generated on first start, the secret 0600, and provisions the demo key", async () => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir });
    const secretFile = join(dataDir, "virtual", "demo-vendor.key");
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const vendor = vendorSecretFromPem(readFileSync(secretFile, "utf8"));
    const published = vendorPublicKeyFromText(readFileSync(join(dataDir, "virtual", "demo-vendor.pub"), "utf8"));
    expect(published).toEqual(vendor.publicKey);
    expect(demoKey(bridge).state.vendorPublicKey).toEqual(vendor.publicKey);
    // Another data directory gets another vendor: nothing is shared or built in.
    const other = await openVirtual();
    expect(toHex(other.testSeams.world!.vendorPublicKey)).not.toBe(toHex(vendor.publicKey));
  });

  it("signs the bridge's license updates, which move the key's update counter", async () => {
    const bridge = await openVirtual();
    const licenses = [{ product: 1001, seats: 12, borrowable: 4, borrowDays: 30 }];
    await bridge.licenseUpdate("KB-DEMO-0001", licenses);
    await bridge.licenseUpdate("KB-DEMO-0001", licenses);
    const state = demoKey(bridge).state;
    expect(state.updateCounter).toBe(2);
    expect(state.licenses.map(({ product, seats }) => [product, seats])).toEqual([[1001, 12]]);
  });

  it("survives a restart unchanged, also for keys created later", async () => {
    const dataDir = tempDataDir();
    const first = await openVirtual({ dataDir });
    const vendorKey = first.testSeams.world!.vendorPublicKey;
    await first.virtual!.create({ serial: "KB-0002" });
    await closeBridge(first);
    const second = await openVirtual({ dataDir });
    expect(second.testSeams.world!.vendorPublicKey).toEqual(vendorKey);
    expect(second.testSeams.world!.key("KB-0002").state.vendorPublicKey).toEqual(vendorKey);
  });

  it("provisions a key saved before keys were provisioned (a format 1 state file)", async () => {
    const dataDir = tempDataDir();
    await closeBridge(await openVirtual({ dataDir }));
    const keyFile = join(dataDir, "virtual", "KB-DEMO-0001.key.json");
    const store = new FileKeyStore(keyFile);
    const { vendorPublicKey: _vendor, updateCounter: _counter, ...old } = store.load()!;
    store.save({ ...old, format: 1 } as unknown as Parameters<FileKeyStore["save"]>[0]);
    expect(store.load()?.format).toBe(1);
    const bridge = await openVirtual({ dataDir });
    expect(demoKey(bridge).state.vendorPublicKey).toEqual(bridge.testSeams.world!.vendorPublicKey);
    expect(store.load()?.vendorPublicKey).toBe(toHex(bridge.testSeams.world!.vendorPublicKey));
  });

  it("an unreadable vendor file stops the start and is left as it is", async () => {
    const dataDir = tempDataDir();
    await closeBridge(await openVirtual({ dataDir }));
    const secretFile = join(dataDir, "virtual", "demo-vendor.key");
    writeFileSync(secretFile, "damaged");
    await expect(openVirtual({ dataDir })).rejects.toMatchObject({ code: "VIRTUAL_STATE_UNREADABLE" });
    expect(readFileSync(secretFile, "utf8")).toBe("damaged");
    expect(existsSync(join(dataDir, "virtual", "KB-DEMO-0001.key.json"))).toBe(true);
  });
});

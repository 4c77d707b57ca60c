/**
 * The library's signed license update (Bridge.previewLicenseUpdate and licenseUpdate with the
 * bytes of an update file): typed answers, and the key's refusals foreseen with its own codes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LicenseInput } from "../../../src/bridge/api.js";
import { UpdateFileInvalidError } from "../../../src/bridge/index.js";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { KeyRefusedError } from "../../../src/key/index.js";
import {
  encodeLicenseUpdateFile,
  type SignedLicenseUpdate,
  Status,
  signLicenseUpdate,
  vendorSecretFromPem,
} from "../../../src/protocol/index.js";
import { openGuarded, SERIAL, tempDir } from "./helpers.js";

const UPGRADE: LicenseInput[] = [{ product: 1001, seats: 20, borrowable: 8, borrowDays: 30 }];

async function open(): Promise<{ bridge: OpenedBridge; file: (counter: number) => Uint8Array }> {
  const dataDir = tempDir();
  const bridge = await openGuarded({ dataDir });
  const { secret } = vendorSecretFromPem(readFileSync(join(dataDir, "virtual", "demo-vendor.key"), "utf8"));
  const file = (counter: number) => {
    const update: SignedLicenseUpdate = signLicenseUpdate(secret, { serial: SERIAL, counter, licenses: UPGRADE });
    return encodeLicenseUpdateFile(update);
  };
  return { bridge, file };
}

describe("Bridge.licenseUpdate with an update file", () => {
  it("previews, then applies: the key's counter is the update's", async () => {
    const { bridge, file } = await open();
    const preview = await bridge.previewLicenseUpdate(SERIAL, file(1));
    expect(preview).toMatchObject({ signed: true, counter: 1, keyCounter: 0, signatureValid: true, refusal: null });
    expect(preview.changes.map(({ product, change }) => [product, change])).toEqual([
      [1001, "changed"],
      [1002, "removed"],
      [1003, "removed"],
    ]);
    const view = await bridge.licenseUpdate(SERIAL, file(1));
    expect(view).toMatchObject({ serial: SERIAL, updateCounter: 1, dummiesCreated: [] });
    expect(bridge.testSeams.world!.key(SERIAL).state.updateCounter).toBe(1);
  });

  it("a key not provisioned (wiped on its board): KEY_NOT_PROVISIONED foreseen, nothing sent", async () => {
    const { bridge, file } = await open();
    bridge.testSeams.world!.key(SERIAL).wipe();
    const preview = await bridge.previewLicenseUpdate(SERIAL, file(1));
    expect(preview).toMatchObject({
      vendorPublicKey: null,
      signatureValid: null,
      refusal: { code: "KEY_NOT_PROVISIONED" },
    });
    const sent: string[] = [];
    const watching = bridge.keyExchanges$.subscribe((exchange) => sent.push(exchange.command));
    const error = await bridge.licenseUpdate(SERIAL, file(1)).catch((e: unknown) => e);
    watching.unsubscribe();
    expect(error).toBeInstanceOf(KeyRefusedError);
    expect(error).toMatchObject({
      code: "KEY_NOT_PROVISIONED",
      status: Status.NOT_PROVISIONED,
      details: { foreseen: true },
    });
    expect(sent.filter((command) => command.includes("LICENSE_UPDATE"))).toEqual([]);
    expect(bridge.testSeams.world!.key(SERIAL).state.licenses).toEqual([]);
  });

  it("bytes that are not an update file: UpdateFileInvalidError before the key is asked", async () => {
    const { bridge, file } = await open();
    const truncated = file(1).subarray(0, 20);
    for (const call of [bridge.previewLicenseUpdate(SERIAL, truncated), bridge.licenseUpdate(SERIAL, truncated)]) {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UpdateFileInvalidError);
      expect(error).toMatchObject({ code: "UPDATE_FILE_INVALID" });
    }
  });
});

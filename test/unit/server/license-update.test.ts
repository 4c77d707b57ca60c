/**
 * A vendor-signed license update over the API: the preview says what it changes and whether it
 * would be refused, the update applies it, and whatever the key would refuse is refused with the
 * key's code, nothing sent to the key and nothing changed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subscription } from "rxjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LicenseInput, LicenseUpdatePreviewView, LicenseUpdateView } from "../../../src/bridge/api.js";
import {
  encodeLicenseUpdateFile,
  generateVendorKeyPair,
  MAX_UPDATE_FILE_SIZE,
  signLicenseUpdate,
  vendorSecretFromPem,
} from "../../../src/protocol/index.js";
import { type Harness, startHarness, TEST_LICENSES } from "./helpers.js";

let h: Harness;
let sent: string[];
let watching: Subscription;
beforeEach(async () => {
  h = await startHarness();
  sent = [];
  watching = h.bridge.keyExchanges$.subscribe((exchange) => sent.push(exchange.command));
});
afterEach(async () => {
  watching.unsubscribe();
  await h.close();
});

const URL = "/v1/keys/KB-0001/license-update";
const NEW_SET: LicenseInput[] = [
  { product: 1001, seats: 20, borrowable: 8, borrowDays: 30 },
  { product: 1003, seats: 3, borrowable: 1, borrowDays: 7 },
];

/** The data directory's demo vendor: the vendor KB-0001 was provisioned with. */
function demoVendor() {
  return vendorSecretFromPem(readFileSync(join(h.bridgeDir, "virtual", "demo-vendor.key"), "utf8")).secret;
}

/** An update file in base64, as `keybridge vendor sign` would write it. */
function signed(counter: number, options: { serial?: string; licenses?: LicenseInput[]; vendor?: "other" } = {}) {
  const secret = options.vendor === "other" ? generateVendorKeyPair().secret : demoVendor();
  const update = signLicenseUpdate(secret, {
    serial: options.serial ?? "KB-0001",
    counter,
    licenses: options.licenses ?? NEW_SET,
  });
  return Buffer.from(encodeLicenseUpdateFile(update)).toString("base64");
}

const post = (path: string, json: unknown) => h.api(path, { method: "POST", json });

/** The key's own state: its licenses and its update counter, read from the virtual key itself. */
function keyState() {
  const { licenses, updateCounter } = h.bridge.testSeams.world!.key("KB-0001").state;
  return {
    licenses: [...licenses.values()].map(({ product, seats, borrowable, borrowDays }) => ({
      product,
      seats,
      borrowable,
      borrowDays,
    })),
    updateCounter,
  };
}

const changing = (commands: string[]) => commands.filter((command) => /LICENSE_UPDATE/.test(command));

describe("POST /v1/keys/{serial}/license-update/preview", () => {
  it("shows the license diff, the counters and the signature, and changes nothing", async () => {
    const before = keyState();
    expect(before).toEqual({ licenses: TEST_LICENSES, updateCounter: 0 });
    const response = await post(`${URL}/preview`, { update: signed(1) });
    expect(response.status).toBe(200);
    const preview = (await response.json()) as LicenseUpdatePreviewView;
    expect(preview).toMatchObject({
      serial: "KB-0001",
      signed: true,
      counter: 1,
      keyCounter: 0,
      signatureValid: true,
      licenseSetVersion: 1,
      licenses: NEW_SET,
      dummies: [],
      unrecordedBorrowIds: [],
      forced: false,
      refusal: null,
    });
    expect(preview.vendorPublicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(preview.changes).toEqual([
      { product: 1001, change: "changed", before: TEST_LICENSES[0], after: NEW_SET[0] },
      { product: 1002, change: "removed", before: TEST_LICENSES[1] },
      { product: 1003, change: "added", after: NEW_SET[1] },
    ]);
    expect(keyState()).toEqual(before);
    expect(changing(sent)).toEqual([]);
    // The counter was not used up: the same file applies afterwards.
    expect((await post(URL, { update: signed(1) })).status).toBe(200);
  });

  it("with borrows out: names the borrows K6 would turn into dummies and the guard's refusal; with force, none", async () => {
    const borrow = (await (await post("/v1/borrows", { product: 1001, client: "ws-07" })).json()) as { id: number };
    const preview = (await (await post(`${URL}/preview`, { update: signed(1) })).json()) as LicenseUpdatePreviewView;
    expect(preview.dummies.map((view) => view.id)).toEqual([borrow.id]);
    expect(preview.refusal).toMatchObject({ code: "BORROWS_OUTSTANDING" });
    const forced = (await (
      await post(`${URL}/preview`, { update: signed(1), force: true })
    ).json()) as LicenseUpdatePreviewView;
    expect(forced).toMatchObject({ forced: true, refusal: null });
    expect(forced.dummies.map((view) => view.id)).toEqual([borrow.id]);
    expect(((await (await h.api("/v1/borrows?state=dummy")).json()) as unknown[]).length).toBe(0);
  });

  it("says what the key would refuse: another serial, a stale counter, another vendor's signature", async () => {
    await post(URL, { update: signed(1) });
    const cases = [
      { update: signed(2, { serial: "KB-0002" }), code: "KEY_WRONG_SERIAL", signatureValid: true },
      { update: signed(1), code: "KEY_STALE_COUNTER", signatureValid: true },
      { update: signed(2, { vendor: "other" }), code: "KEY_BAD_VENDOR_SIGNATURE", signatureValid: false },
    ];
    for (const { update, code, signatureValid } of cases) {
      const preview = (await (await post(`${URL}/preview`, { update })).json()) as LicenseUpdatePreviewView;
      expect(preview.refusal?.code, code).toBe(code);
      expect(preview.signatureValid, code).toBe(signatureValid);
      expect(preview.keyCounter).toBe(1);
    }
  });

  it("a bare set (virtual mode's demo vendor signs it) shows the counter it would be signed with", async () => {
    const preview = (await (await post(`${URL}/preview`, { licenses: NEW_SET })).json()) as LicenseUpdatePreviewView;
    expect(preview).toMatchObject({ signed: false, counter: 1, keyCounter: 0, signatureValid: null, refusal: null });
    expect(preview.changes.map((change) => change.change)).toEqual(["changed", "removed", "added"]);
    expect(keyState().licenses).toEqual(TEST_LICENSES);
  });
});

describe("POST /v1/keys/{serial}/license-update with a signed file", () => {
  it("applies it: the key has the new set and the update's counter", async () => {
    const response = await post(URL, { update: signed(1) });
    expect(response.status).toBe(200);
    expect((await response.json()) as LicenseUpdateView).toEqual({
      serial: "KB-0001",
      licenseSetVersion: 2,
      forced: false,
      dummiesCreated: [],
      updateCounter: 1,
    });
    expect(keyState()).toEqual({ licenses: NEW_SET, updateCounter: 1 });
    expect(changing(sent)).toEqual(["SIGNED_LICENSE_UPDATE"]);
    const keys = (await (await h.api("/v1/keys")).json()) as { licenses: { product: number; seats: number }[] }[];
    expect(keys[0]!.licenses.map(({ product, seats }) => [product, seats])).toEqual([
      [1001, 20],
      [1003, 3],
    ]);
  });

  it("with borrows out: refused (409 BORROWS_OUTSTANDING), the key unchanged; forced, it reports the key's dummies", async () => {
    const borrow = (await (await post("/v1/borrows", { product: 1001, client: "ws-07" })).json()) as { id: number };
    const refused = await post(URL, { update: signed(1) });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { code: string }).code).toBe("BORROWS_OUTSTANDING");
    expect(keyState()).toEqual({ licenses: TEST_LICENSES, updateCounter: 0 });
    expect(changing(sent)).toEqual([]);

    const forced = await post(URL, { update: signed(1), force: true });
    expect(forced.status).toBe(200);
    const view = (await forced.json()) as LicenseUpdateView;
    expect(view).toMatchObject({ forced: true, updateCounter: 1 });
    expect(view.dummiesCreated.map((dummy) => [dummy.id, dummy.state])).toEqual([[borrow.id, "dummy"]]);
    const onKey = [...h.bridge.testSeams.world!.key("KB-0001").state.borrows.values()].map((record) => [
      record.id,
      record.state,
    ]);
    expect(onKey).toEqual([[borrow.id, "dummy"]]);
  });

  it("refuses what the key would refuse with the key's code, sends nothing and changes nothing", async () => {
    await post(URL, { update: signed(1) });
    const after = keyState();
    sent.length = 0;
    const cases = [
      { update: signed(2, { serial: "KB-0002" }), code: "KEY_WRONG_SERIAL" },
      { update: signed(1, { licenses: TEST_LICENSES }), code: "KEY_STALE_COUNTER" },
      { update: signed(2, { vendor: "other" }), code: "KEY_BAD_VENDOR_SIGNATURE" },
    ];
    for (const { update, code } of cases) {
      const response = await post(URL, { update });
      expect(response.status, code).toBe(409);
      const problem = (await response.json()) as { code: string; detail: string };
      expect(problem.code).toBe(code);
      expect(problem.detail).toMatch(/nothing was sent/);
    }
    expect(keyState()).toEqual(after);
    expect(changing(sent)).toEqual([]);
    const audit = (await (await h.api("/v1/audit?kind=license-update")).json()) as unknown[];
    expect(audit).toHaveLength(1);
  });

  it("a signature over other bytes (a license changed after signing) is KEY_BAD_VENDOR_SIGNATURE", async () => {
    const bytes = Buffer.from(signed(1), "base64");
    // The seats of the first license: magic (4), version (1), serial (1 + 7), counter (4), count (2), product (4).
    const seats = 4 + 1 + 8 + 4 + 2 + 4;
    expect(bytes.readUInt16BE(seats)).toBe(20);
    bytes.writeUInt16BE(200, seats);
    const response = await post(URL, { update: bytes.toString("base64") });
    expect(((await response.json()) as { code: string }).code).toBe("KEY_BAD_VENDOR_SIGNATURE");
    expect(keyState()).toEqual({ licenses: TEST_LICENSES, updateCounter: 0 });
  });

  it("a body that is not an update file is 400 with a stable code, and nothing reaches the key", async () => {
    const file = Buffer.from(signed(1), "base64");
    const bad = [
      { update: file.subarray(0, file.length - 1).toString("base64"), code: "UPDATE_FILE_INVALID" },
      { update: Buffer.concat([file, Buffer.from([0])]).toString("base64"), code: "UPDATE_FILE_INVALID" },
      { update: Buffer.from("not an update file").toString("base64"), code: "UPDATE_FILE_INVALID" },
      { update: Buffer.alloc(MAX_UPDATE_FILE_SIZE + 3, 1).toString("base64"), code: "VALIDATION" },
      { update: "not base64!", code: "VALIDATION" },
      { update: signed(1), licenses: NEW_SET, code: "VALIDATION" },
      { code: "VALIDATION" },
    ];
    for (const { code, ...body } of bad) {
      for (const path of [URL, `${URL}/preview`]) {
        const response = await post(path, body);
        expect(response.status, `${path} ${code}`).toBe(400);
        expect(((await response.json()) as { code: string }).code, `${path} ${code}`).toBe(code);
      }
    }
    expect(keyState()).toEqual({ licenses: TEST_LICENSES, updateCounter: 0 });
    expect(sent).toEqual([]);
  });
});

/**
 * Vendor-signed license updates on the key: provisioning, every refusal with nothing changed,
 * replay and rollback, malformed bodies, wipe, and the state surviving a power cycle.
 */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { KeySnapshot } from "../../../native-mocks/firmware/firmware.js";
import {
  AppCommand,
  ByteWriter,
  Capability,
  COMMAND_CODECS,
  decodeErrorBody,
  type License,
  OP_ID_SIZE,
  type SignedLicenseUpdate,
  Status,
  writeSignedUpdate,
} from "../../../src/protocol/index.js";
import { newTestVendor } from "../../conformance/vendor.js";
import { bytes, DAY, FirmwareHost, HOST_SERIAL, HOST_VENDOR, LICENSES } from "./key-host.js";

const { BORROW, GET_INFO, LICENSE_UPDATE, OP_STATUS, PROVISION, SIGNED_LICENSE_UPDATE, VENDOR_INFO } = COMMAND_CODECS;

const SET_A: License[] = [{ product: 1001, seats: 20, borrowable: 5, borrowDays: 10 }];
const SET_B: License[] = [
  { product: 1001, seats: 30, borrowable: 6, borrowDays: 10 },
  { product: 1004, seats: 2, borrowable: 1, borrowDays: 7 },
];

function signed(counter: number, licenses: readonly License[] = SET_A, serial = HOST_SERIAL): SignedLicenseUpdate {
  return HOST_VENDOR.sign({ serial, counter, licenses });
}

function update(host: FirmwareHost, signedUpdate: SignedLicenseUpdate, opId: Uint8Array = randomBytes(16)) {
  return host.call(SIGNED_LICENSE_UPDATE, { opId, update: signedUpdate });
}

/** What a refused update must leave exactly as it was. */
function keyContent(snapshot: KeySnapshot) {
  return {
    licenses: snapshot.licenses,
    licenseSetVersion: snapshot.licenseSetVersion,
    updateCounter: snapshot.updateCounter,
    vendorPublicKey: snapshot.vendorPublicKey,
    borrows: snapshot.borrows.map((record) => [record.id, record.state, record.dummyUntil]),
  };
}

/** A key with one active borrow and one update (counter 3) applied. */
function busyKey(): FirmwareHost {
  const host = new FirmwareHost();
  expect(update(host, signed(3, LICENSES)).status).toBe(Status.OK);
  const borrow = host.call(BORROW, {
    opId: randomBytes(16),
    product: 1001,
    days: 5,
    binding: bytes(32, 1),
    tag: bytes(16, 2),
    client: "ws-01",
  });
  expect(borrow.status).toBe(Status.OK);
  return host;
}

function expectRefusedUnchanged(host: FirmwareHost, sent: SignedLicenseUpdate, status: Status, reason: RegExp) {
  const before = keyContent(host.firmware.snapshot());
  const opId = randomBytes(16);
  const answer = update(host, sent, opId);
  expect(answer.status, answer.reason).toBe(status);
  expect(answer.reason).toMatch(reason);
  expect(keyContent(host.firmware.snapshot())).toEqual(before);
  // Journaled for OP_STATUS like every refused mutating command, and its opId stays usable.
  expect(host.call(OP_STATUS, { opId }).value).toMatchObject({ known: true, kind: "license-update", status });
}

describe("a key takes only vendor-signed license updates", () => {
  it("announces VENDOR_SIGNED and no longer LICENSE_UPDATE, and refuses the unsigned command changing nothing", () => {
    for (const vendorPublicKey of [undefined, null] as const) {
      const host = new FirmwareHost(vendorPublicKey === null ? { vendorPublicKey } : {});
      const info = host.call(GET_INFO, {}).value!;
      expect(info.capabilities & Capability.VENDOR_SIGNED).toBe(Capability.VENDOR_SIGNED);
      expect(info.capabilities & Capability.LICENSE_UPDATE).toBe(0);
      const before = keyContent(host.firmware.snapshot());
      const answer = host.call(LICENSE_UPDATE, { opId: randomBytes(16), licenses: SET_A });
      expect(answer.status).toBe(Status.UNKNOWN_COMMAND);
      expect(answer.reason).toMatch(/SIGNED_LICENSE_UPDATE/);
      expect(keyContent(host.firmware.snapshot())).toEqual(before);
    }
  });

  it("applies a valid update: the new set, the counter, K6 for active borrows", () => {
    const host = busyKey();
    host.realTime += DAY;
    const answer = update(host, signed(4, SET_B));
    expect(answer.value).toMatchObject({ dummiesCreated: 1, updateCounter: 4 });
    const snapshot = host.firmware.snapshot();
    expect(snapshot.licenses.map(({ product, seats }) => [product, seats])).toEqual([
      [1001, 30],
      [1004, 2],
    ]);
    expect(snapshot.borrows.map((record) => [record.state, record.dummyUntil])).toEqual([
      ["dummy", host.realTime + 10 * DAY],
    ]);
    expect(host.call(VENDOR_INFO, {}).value).toEqual({
      provisioned: true,
      vendorPublicKey: HOST_VENDOR.publicKey,
      updateCounter: 4,
    });
  });

  it("counters may skip numbers; only going up matters", () => {
    const host = new FirmwareHost();
    expect(update(host, signed(2)).value?.updateCounter).toBe(2);
    expect(update(host, signed(1000, SET_B)).value?.updateCounter).toBe(1000);
  });
});

describe("every refusal has its own status and changes nothing", () => {
  it("NOT_PROVISIONED: a key without a vendor key takes no update, whoever signed it", () => {
    const host = new FirmwareHost({ vendorPublicKey: null });
    expectRefusedUnchanged(host, signed(1), Status.NOT_PROVISIONED, /not provisioned/);
  });

  it("WRONG_SERIAL: an update the vendor signed for another key", () => {
    expectRefusedUnchanged(busyKey(), signed(9, SET_B, "KB-OTHER"), Status.WRONG_SERIAL, /for key KB-OTHER/);
  });

  it("BAD_VENDOR_SIGNATURE: signed by another vendor, a damaged signature, or licenses changed after signing", () => {
    const host = busyKey();
    const stranger = newTestVendor().sign({ serial: HOST_SERIAL, counter: 9, licenses: SET_B });
    expectRefusedUnchanged(host, stranger, Status.BAD_VENDOR_SIGNATURE, /does not verify/);
    const good = signed(9, SET_B);
    const damaged = Uint8Array.from(good.signature);
    damaged[0]! ^= 0x01;
    expectRefusedUnchanged(host, { ...good, signature: damaged }, Status.BAD_VENDOR_SIGNATURE, /does not verify/);
    const moreSeats = good.licenses.map((license) => ({ ...license, seats: license.seats + 100 }));
    expectRefusedUnchanged(host, { ...good, licenses: moreSeats }, Status.BAD_VENDOR_SIGNATURE, /does not verify/);
    expectRefusedUnchanged(host, { ...good, counter: 10 }, Status.BAD_VENDOR_SIGNATURE, /does not verify/);
  });

  it("STALE_COUNTER: the same counter again, or a lower one", () => {
    const host = busyKey();
    expectRefusedUnchanged(host, signed(3, SET_B), Status.STALE_COUNTER, /counter 3 is not above the key's 3/);
    expectRefusedUnchanged(host, signed(1, SET_B), Status.STALE_COUNTER, /counter 1 is not above/);
  });

  it("rollback: an update applied before is refused when replayed later under a new opId", () => {
    const host = new FirmwareHost();
    const first = signed(1, SET_A);
    expect(update(host, first).status).toBe(Status.OK);
    expect(update(host, signed(2, SET_B)).status).toBe(Status.OK);
    expectRefusedUnchanged(host, first, Status.STALE_COUNTER, /not above the key's 2/);
    expect(host.firmware.snapshot().licenses.map((license) => license.product)).toEqual([1001, 1004]);
  });

  it("checks in order: provisioned, serial, signature, counter", () => {
    const host = busyKey();
    const stranger = newTestVendor();
    // Another serial and a bad signature: the serial is named.
    expectRefusedUnchanged(
      host,
      stranger.sign({ serial: "KB-OTHER", counter: 9, licenses: SET_A }),
      Status.WRONG_SERIAL,
      /KB-OTHER/,
    );
    // A stale counter under a bad signature: the counter of a forgery means nothing, the signature is named.
    expectRefusedUnchanged(
      host,
      stranger.sign({ serial: HOST_SERIAL, counter: 1, licenses: SET_A }),
      Status.BAD_VENDOR_SIGNATURE,
      /does not verify/,
    );
  });

  it("a retry of an applied update with its opId answers the first answer (K2), not STALE_COUNTER", () => {
    const host = new FirmwareHost();
    const opId = randomBytes(16);
    const first = update(host, signed(1), opId);
    expect(update(host, signed(1), opId)).toEqual(first);
  });

  it("a refused update's opId can be retried with a good update (refusals do not consume it)", () => {
    const host = new FirmwareHost();
    const opId = randomBytes(16);
    expect(update(host, signed(1, SET_A, "KB-OTHER"), opId).status).toBe(Status.WRONG_SERIAL);
    expect(update(host, signed(1), opId).status).toBe(Status.OK);
  });
});

/** A SIGNED_LICENSE_UPDATE body from raw parts, for shapes the encoder refuses to write. */
function bodyOf(update: SignedLicenseUpdate, licenseCount = update.licenses.length): Uint8Array {
  const w = new ByteWriter().bytes(randomBytes(OP_ID_SIZE)).shortString(update.serial, 32).u32(update.counter);
  w.u16(licenseCount);
  for (const license of update.licenses) {
    w.u32(license.product).u16(license.seats).u16(license.borrowable).u16(license.borrowDays);
  }
  return w.bytes(update.signature).finish();
}

describe("malformed updates are BAD_REQUEST and change nothing", () => {
  it("truncated at every length, with a byte left over, oversized, counter 0, duplicate products", () => {
    const host = busyKey();
    const before = keyContent(host.firmware.snapshot());
    const good = signed(9, SET_B);
    const w = new ByteWriter().bytes(randomBytes(OP_ID_SIZE));
    writeSignedUpdate(w, good);
    const full = w.finish();
    const bodies: Uint8Array[] = [];
    for (let length = 0; length < full.length; length++) bodies.push(full.subarray(0, length));
    bodies.push(Uint8Array.of(...full, 0));
    const many = Array.from({ length: 257 }, (_, i) => ({ product: i, seats: 1, borrowable: 1, borrowDays: 1 }));
    bodies.push(bodyOf({ ...good, licenses: many }));
    bodies.push(bodyOf({ ...good, counter: 0 }));
    bodies.push(bodyOf({ ...good, licenses: [SET_A[0]!, SET_A[0]!] }));
    bodies.push(bodyOf(good, 3)); // count says 3, two licenses follow
    for (const body of bodies) {
      const answer = host.raw(AppCommand.SIGNED_LICENSE_UPDATE, body);
      expect(answer.status, `body of ${body.length} bytes`).toBe(Status.BAD_REQUEST);
    }
    expect(keyContent(host.firmware.snapshot())).toEqual(before);
    // The untouched body still applies afterwards.
    expect(host.raw(AppCommand.SIGNED_LICENSE_UPDATE, full).status).toBe(Status.OK);
  });

  it("no flipped bit anywhere in a signed update is ever applied", () => {
    const good = signed(9, SET_B);
    const w = new ByteWriter().bytes(randomBytes(OP_ID_SIZE));
    writeSignedUpdate(w, good);
    const full = w.finish();
    fc.assert(
      fc.property(fc.integer({ min: OP_ID_SIZE * 8, max: full.length * 8 - 1 }), (bit) => {
        const host = busyKey();
        const before = keyContent(host.firmware.snapshot());
        const body = Uint8Array.from(full);
        body[bit >> 3]! ^= 1 << (bit & 7);
        const answer = host.raw(AppCommand.SIGNED_LICENSE_UPDATE, body);
        expect(answer.status, decodeErrorBody(answer.body)).not.toBe(Status.OK);
        expect(keyContent(host.firmware.snapshot())).toEqual(before);
      }),
      { numRuns: 60 },
    );
  });
});

describe("provisioning", () => {
  it("binds an unprovisioned key once; the same vendor again is OK, another is ALREADY_PROVISIONED", () => {
    const host = new FirmwareHost({ vendorPublicKey: null });
    expect(host.call(VENDOR_INFO, {}).value).toEqual({ provisioned: false, updateCounter: 0 });
    const first = host.call(PROVISION, { serial: HOST_SERIAL, vendorPublicKey: HOST_VENDOR.publicKey });
    expect(first.value).toEqual({ provisioned: true, vendorPublicKey: HOST_VENDOR.publicKey, updateCounter: 0 });
    expect(host.call(PROVISION, { serial: HOST_SERIAL, vendorPublicKey: HOST_VENDOR.publicKey })).toEqual(first);
    const other = host.call(PROVISION, { serial: HOST_SERIAL, vendorPublicKey: newTestVendor().publicKey });
    expect(other.status).toBe(Status.ALREADY_PROVISIONED);
    expect(host.call(VENDOR_INFO, {}).value).toEqual(first.value);
    expect(update(host, signed(1)).status).toBe(Status.OK);
  });

  it("refuses another serial (WRONG_SERIAL) and a key that is not an Ed25519 key (BAD_REQUEST), staying unprovisioned", () => {
    const host = new FirmwareHost({ vendorPublicKey: null });
    expect(host.call(PROVISION, { serial: "KB-OTHER", vendorPublicKey: HOST_VENDOR.publicKey }).status).toBe(
      Status.WRONG_SERIAL,
    );
    expect(host.call(PROVISION, { serial: HOST_SERIAL, vendorPublicKey: new Uint8Array(32) }).status).toBe(
      Status.BAD_REQUEST,
    );
    expect(host.call(VENDOR_INFO, {}).value?.provisioned).toBe(false);
  });

  it("vendor key and counter survive a power cycle: a replay stays refused after it", () => {
    const host = new FirmwareHost();
    const first = signed(1);
    expect(update(host, first).status).toBe(Status.OK);
    host.restart();
    expect(host.call(VENDOR_INFO, {}).value).toMatchObject({ provisioned: true, updateCounter: 1 });
    expect(update(host, first).status).toBe(Status.STALE_COUNTER);
  });

  it("wipe (board side) clears vendor, counter, licenses and borrows; the key can then be provisioned anew", () => {
    const host = busyKey();
    const versionBefore = host.firmware.snapshot().licenseSetVersion;
    host.firmware.wipe();
    host.restart();
    const wiped = host.firmware.snapshot();
    expect(wiped).toMatchObject({ vendorPublicKey: undefined, updateCounter: 0, licenses: [], borrows: [] });
    expect(wiped.licenseSetVersion).toBe(versionBefore + 1);
    expect(wiped.nextBorrowId).toBe(2); // ids are never reused
    const next = newTestVendor();
    expect(host.call(PROVISION, { serial: HOST_SERIAL, vendorPublicKey: next.publicKey }).status).toBe(Status.OK);
    expect(update(host, signed(4)).status).toBe(Status.BAD_VENDOR_SIGNATURE);
    const fromNext = next.sign({ serial: HOST_SERIAL, counter: 1, licenses: SET_A });
    expect(update(host, fromNext).value?.updateCounter).toBe(1);
  });
});

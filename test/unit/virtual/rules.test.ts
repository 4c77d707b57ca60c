import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type BorrowRequest, COMMAND_CODECS, type License, Status, toHex } from "../../../src/protocol/index.js";
import { bytes, DAY, FirmwareHost, HOST_SERIAL, HOST_VENDOR, T0 } from "./key-host.js";

const {
  BORROW,
  SETTLE,
  REBIND,
  LIST_BORROWS,
  SIGNED_LICENSE_UPDATE,
  LIST_LICENSES,
  OP_STATUS,
  GET_INFO,
  GET_TIME,
  PING,
} = COMMAND_CODECS;

const HOST_A = bytes(32, 0xaa);
const HOST_B = bytes(32, 0xbb);
const TAG = bytes(16, 0x11);

function borrowRequest(overrides: Partial<BorrowRequest> = {}): BorrowRequest {
  return {
    opId: randomBytes(16),
    product: 1001,
    days: 30,
    binding: HOST_A,
    tag: TAG,
    client: "ws-01",
    ...overrides,
  };
}

function borrowOk(host: FirmwareHost, overrides: Partial<BorrowRequest> = {}) {
  const answer = host.call(BORROW, borrowRequest(overrides));
  expect(answer.status, answer.reason).toBe(Status.OK);
  return answer.value!;
}

function settle(host: FirmwareHost, id: number, binding = HOST_A, tag = TAG, opId = randomBytes(16)) {
  return host.call(SETTLE, { opId, id, binding, tag });
}

function usage(host: FirmwareHost, product: number) {
  return host.call(LIST_LICENSES, {}).value!.find((license) => license.product === product)!;
}

describe("K1 borrow", () => {
  it("issues a record with the key's time and the requested period", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host, { days: 7 });
    expect(record).toMatchObject({ id: 1, product: 1001, client: "ws-01", state: "active", issuedAt: T0 });
    expect(record.expiresAt).toBe(T0 + 7 * DAY);
    expect(usage(host, 1001)).toMatchObject({ borrowed: 1, dummies: 0 });
  });

  it("refuses NO_BORROWABLE once the borrowable count is reached", () => {
    const host = new FirmwareHost();
    borrowOk(host);
    borrowOk(host);
    const third = host.call(BORROW, borrowRequest());
    expect(third.status).toBe(Status.NO_BORROWABLE);
    expect(third.reason).toContain("No more licenses are available for borrowing");
  });

  it("refuses NO_BORROWABLE while any dummy of the product exists, even with seats free", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host);
    expect(settle(host, record.id, HOST_B).value?.outcome).toBe("dummy");
    expect(usage(host, 1001)).toMatchObject({ borrowed: 0, dummies: 1, borrowable: 2 });
    expect(host.call(BORROW, borrowRequest()).status).toBe(Status.NO_BORROWABLE);
    // other products are not blocked
    expect(host.call(BORROW, borrowRequest({ product: 1002, days: 14 })).status).toBe(Status.OK);
  });

  it("refuses an unknown product, a period of 0 or beyond borrowDays, and an empty client", () => {
    const host = new FirmwareHost();
    expect(host.call(BORROW, borrowRequest({ product: 42 })).status).toBe(Status.UNKNOWN_PRODUCT);
    expect(host.call(BORROW, borrowRequest({ days: 0 })).status).toBe(Status.BAD_REQUEST);
    expect(host.call(BORROW, borrowRequest({ days: 31 })).status).toBe(Status.BAD_REQUEST);
    expect(host.call(BORROW, borrowRequest({ client: "" })).status).toBe(Status.BAD_REQUEST);
    expect(host.call(LIST_BORROWS, { afterId: 0, maxCount: 32 }).value?.records).toEqual([]);
  });
});

describe("K2 idempotency", () => {
  it("a repeated BORROW opId returns the same record and allocates nothing", () => {
    const host = new FirmwareHost();
    const opId = randomBytes(16);
    const first = borrowOk(host, { opId });
    const again = borrowOk(host, { opId, client: "someone-else" });
    expect(again).toEqual(first);
    expect(usage(host, 1001).borrowed).toBe(1);
    expect(borrowOk(host).id).toBe(2);
  });

  it("a BORROW opId whose borrow was settled since is refused as already used", () => {
    const host = new FirmwareHost();
    const opId = randomBytes(16);
    const record = borrowOk(host, { opId });
    expect(settle(host, record.id).value?.outcome).toBe("settled");
    const retry = host.call(BORROW, borrowRequest({ opId }));
    expect(retry.status).toBe(Status.BAD_REQUEST);
    expect(retry.reason).toContain("opId already used");
  });

  it("ids are never reused, not even after a settle", () => {
    const host = new FirmwareHost();
    const first = borrowOk(host);
    settle(host, first.id);
    expect(borrowOk(host).id).toBe(first.id + 1);
  });
});

describe("K3 settle", () => {
  it("matching binding and tag removes the record and frees the seat", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host);
    expect(settle(host, record.id).value).toEqual({ id: record.id, outcome: "settled" });
    expect(usage(host, 1001)).toMatchObject({ borrowed: 0, dummies: 0 });
  });

  it("a wrong binding or a wrong tag makes a dummy until now + borrowDays", () => {
    const host = new FirmwareHost();
    const a = borrowOk(host);
    const b = borrowOk(host);
    host.realTime += 5 * DAY;
    const wrongBinding = settle(host, a.id, HOST_B).value!;
    const wrongTag = settle(host, b.id, HOST_A, bytes(16, 0x22)).value!;
    expect(wrongBinding).toEqual({ id: a.id, outcome: "dummy", dummyUntil: T0 + 5 * DAY + 30 * DAY });
    expect(wrongTag.outcome).toBe("dummy");
    expect(usage(host, 1001)).toMatchObject({ borrowed: 0, dummies: 2 });
  });

  it("unknown id is UNKNOWN_BORROW and settling a dummy is NOT_ACTIVE", () => {
    const host = new FirmwareHost();
    expect(settle(host, 99).status).toBe(Status.UNKNOWN_BORROW);
    const record = borrowOk(host);
    settle(host, record.id, HOST_B);
    expect(settle(host, record.id).status).toBe(Status.NOT_ACTIVE);
  });

  it("a repeated SETTLE opId answers the same result again", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host);
    const opId = randomBytes(16);
    const first = settle(host, record.id, HOST_B, TAG, opId);
    const again = settle(host, record.id, HOST_A, TAG, opId);
    expect(again).toEqual(first);
    expect(host.call(OP_STATUS, { opId }).value).toEqual({
      known: true,
      kind: "settle",
      status: Status.OK,
      borrowId: record.id,
      settleOutcome: "dummy",
    });
  });
});

describe("K4 expiry and K5 dummy clearing", () => {
  it("an unsettled record stays active through the settle window, then turns into a dummy by itself", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host, { days: 2 });
    host.realTime = record.expiresAt + DAY - 1;
    expect(host.call(LIST_BORROWS, { afterId: 0, maxCount: 1 }).value?.records[0]?.state).toBe("active");
    host.realTime = record.expiresAt + DAY;
    const listed = host.call(LIST_BORROWS, { afterId: 0, maxCount: 1 }).value!.records[0]!;
    expect(listed.state).toBe("dummy");
    expect(listed.dummyUntil).toBe(record.expiresAt + DAY + 30 * DAY);
  });

  it("a record expired but within the window can still be settled", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host, { days: 1 });
    host.realTime = record.expiresAt + DAY / 2;
    expect(settle(host, record.id).value?.outcome).toBe("settled");
  });

  it("a dummy clears exactly at dummyUntil and then borrowing works again", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host);
    const dummyUntil = settle(host, record.id, HOST_B).value!.dummyUntil!;
    host.realTime = dummyUntil - 1;
    expect(usage(host, 1001).dummies).toBe(1);
    expect(host.call(BORROW, borrowRequest()).status).toBe(Status.NO_BORROWABLE);
    host.realTime = dummyUntil;
    expect(usage(host, 1001).dummies).toBe(0);
    expect(host.call(BORROW, borrowRequest()).status).toBe(Status.OK);
  });

  it("honours a custom settle window", () => {
    const host = new FirmwareHost({ settleWindowMs: 60_000 });
    const record = borrowOk(host, { days: 1 });
    host.realTime = record.expiresAt + 60_000;
    expect(usage(host, 1001).dummies).toBe(1);
    expect(host.call(GET_TIME, {}).value).toEqual({ keyTimeMs: host.realTime, settleWindowMs: 60_000 });
  });
});

describe("K6 license update (vendor-signed)", () => {
  const NEW_SET: License[] = [{ product: 1001, seats: 20, borrowable: 5, borrowDays: 10 }];
  const signed = (counter: number, licenses = NEW_SET) => HOST_VENDOR.sign({ serial: HOST_SERIAL, counter, licenses });

  it("replaces the set, bumps the version and turns every active borrow into a dummy", () => {
    const host = new FirmwareHost();
    borrowOk(host);
    borrowOk(host, { product: 1002, days: 14 });
    const before = host.call(GET_INFO, {}).value!.licenseSetVersion;
    host.realTime += DAY;
    const result = host.call(SIGNED_LICENSE_UPDATE, { opId: randomBytes(16), update: signed(1) }).value!;
    expect(result).toEqual({ licenseSetVersion: before + 1, dummiesCreated: 2, updateCounter: 1 });
    const records = host.call(LIST_BORROWS, { afterId: 0, maxCount: 32 }).value!.records;
    expect(records.map((r) => [r.product, r.state, r.dummyUntil])).toEqual([
      [1001, "dummy", T0 + DAY + 10 * DAY],
      [1002, "dummy", T0 + DAY + 14 * DAY],
    ]);
    expect(host.call(LIST_LICENSES, {}).value).toEqual([{ ...NEW_SET[0], borrowed: 0, dummies: 1 }]);
  });

  it("a repeated update opId does not bump the version twice", () => {
    const host = new FirmwareHost();
    const opId = randomBytes(16);
    const first = host.call(SIGNED_LICENSE_UPDATE, { opId, update: signed(1) }).value!;
    expect(host.call(SIGNED_LICENSE_UPDATE, { opId, update: signed(1) }).value).toEqual(first);
    expect(host.call(GET_INFO, {}).value!.licenseSetVersion).toBe(first.licenseSetVersion);
  });
});

describe("K7 rebind", () => {
  it("moves an active borrow to a new binding when old binding and tag match", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host);
    const moved = host.call(REBIND, {
      opId: randomBytes(16),
      id: record.id,
      oldBinding: HOST_A,
      tag: TAG,
      newBinding: HOST_B,
    });
    expect(moved.value?.binding).toEqual(HOST_B);
    expect(settle(host, record.id, HOST_B).value?.outcome).toBe("settled");
  });

  it("refuses a wrong old binding or tag without changing anything", () => {
    const host = new FirmwareHost();
    const record = borrowOk(host);
    const wrongTag = host.call(REBIND, {
      opId: randomBytes(16),
      id: record.id,
      oldBinding: HOST_A,
      tag: bytes(16, 0x99),
      newBinding: HOST_B,
    });
    const wrongBinding = host.call(REBIND, {
      opId: randomBytes(16),
      id: record.id,
      oldBinding: HOST_B,
      tag: TAG,
      newBinding: HOST_B,
    });
    expect([wrongTag.status, wrongBinding.status]).toEqual([Status.REBIND_REFUSED, Status.REBIND_REFUSED]);
    expect(settle(host, record.id, HOST_A).value?.outcome).toBe("settled");
  });

  it("answers UNKNOWN_BORROW and NOT_ACTIVE", () => {
    const host = new FirmwareHost();
    const request = { opId: randomBytes(16), id: 7, oldBinding: HOST_A, tag: TAG, newBinding: HOST_B };
    expect(host.call(REBIND, request).status).toBe(Status.UNKNOWN_BORROW);
    const record = borrowOk(host);
    settle(host, record.id, HOST_B);
    expect(host.call(REBIND, { ...request, opId: randomBytes(16), id: record.id }).status).toBe(Status.NOT_ACTIVE);
  });
});

describe("K8 listing", () => {
  it("pages by id with opIds, dummies included", () => {
    const host = new FirmwareHost({ licenses: [{ product: 1, seats: 100, borrowable: 100, borrowDays: 30 }] });
    const opIds: string[] = [];
    for (let i = 0; i < 40; i++) {
      const opId = randomBytes(16);
      opIds.push(toHex(opId));
      borrowOk(host, { product: 1, opId, client: `c${i}` });
    }
    settle(host, 3, HOST_B);
    const first = host.call(LIST_BORROWS, { afterId: 0, maxCount: 32 }).value!;
    expect(first.records).toHaveLength(32);
    expect(first.more).toBe(true);
    const second = host.call(LIST_BORROWS, { afterId: first.records.at(-1)!.id, maxCount: 32 }).value!;
    expect(second.records).toHaveLength(8);
    expect(second.more).toBe(false);
    const all = [...first.records, ...second.records];
    expect(all.map((r) => r.id)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(all.map((r) => toHex(r.opId))).toEqual(opIds);
    expect(all[2]?.state).toBe("dummy");
  });

  it("never reveals a tag", () => {
    const host = new FirmwareHost();
    const tag = bytes(16, 0x5c);
    borrowOk(host, { tag });
    const { body } = host.raw(LIST_BORROWS.command, LIST_BORROWS.encodeRequest({ afterId: 0, maxCount: 32 }));
    expect(Buffer.from(body).includes(Buffer.from(tag))).toBe(false);
  });

  it("refuses a page size over 32", () => {
    const host = new FirmwareHost();
    host.init();
    const body = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 33);
    expect(host.raw(LIST_BORROWS.command, body).status).toBe(Status.BAD_REQUEST);
  });
});

describe("other commands", () => {
  it("GET_INFO describes the key, PING echoes, OP_STATUS of an unknown op is unknown", () => {
    const host = new FirmwareHost();
    const info = host.call(GET_INFO, {}).value!;
    expect(info).toMatchObject({ serial: "KB-TEST-1", protocolVersion: 1, keyTimeMs: T0, settleWindowMs: DAY });
    expect(info.publicKey).toEqual(host.firmware.publicKey);
    expect(host.call(PING, Uint8Array.of(1, 2, 3)).value).toEqual(Uint8Array.of(1, 2, 3));
    expect(host.call(OP_STATUS, { opId: randomBytes(16) }).value).toEqual({ known: false });
  });

  it("OP_STATUS reports a borrow and a refusal", () => {
    const host = new FirmwareHost();
    const opId = randomBytes(16);
    const record = borrowOk(host, { opId });
    expect(host.call(OP_STATUS, { opId }).value).toMatchObject({ known: true, kind: "borrow", borrowId: record.id });
    const refused = randomBytes(16);
    host.call(BORROW, borrowRequest({ opId: refused, product: 5 }));
    expect(host.call(OP_STATUS, { opId: refused }).value).toMatchObject({ status: Status.UNKNOWN_PRODUCT });
  });

  it("an unknown command is UNKNOWN_COMMAND, a malformed body BAD_REQUEST, both signed", () => {
    const host = new FirmwareHost();
    host.init();
    expect(host.raw(0x55, new Uint8Array(0)).status).toBe(Status.UNKNOWN_COMMAND);
    expect(host.raw(BORROW.command, Uint8Array.of(1, 2, 3)).status).toBe(Status.BAD_REQUEST);
  });
});

import fc from "fast-check";
import {
  BINDING_SIZE,
  type BorrowRecord,
  type BorrowRequest,
  type KeyInfo,
  type License,
  type LicenseUsage,
  MAX_BORROW_DAYS,
  MAX_BORROWS_PER_PAGE,
  MAX_CLIENT_BYTES,
  MAX_PING_BYTES,
  MAX_SERIAL_BYTES,
  OP_ID_SIZE,
  type OpStatus,
  PUBLIC_KEY_SIZE,
  type RebindRequest,
  type SettleRequest,
  type SettleResult,
  SIGNATURE_SIZE,
  TAG_SIZE,
} from "../../../src/protocol/index.js";

/** Valid values of every wire field, for round-trip properties. */

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
/** u64 fields carry JS safe integers only (ids and epoch-ms times). */
export const u64 = fc.maxSafeNat();

export const fixedBytes = (size: number) => fc.uint8Array({ minLength: size, maxLength: size });

/** Whole Unicode scalar values (no lone surrogates), at most `maxBytes` once UTF-8 encoded. */
export function utf8String(maxBytes: number, minBytes = 0): fc.Arbitrary<string> {
  return fc
    .string({ unit: "grapheme", maxLength: maxBytes })
    .map((text) => truncateUtf8(text, maxBytes))
    .filter((text) => Buffer.byteLength(text, "utf8") >= minBytes);
}

function truncateUtf8(text: string, maxBytes: number): string {
  let result = "";
  for (const char of text) {
    if (Buffer.byteLength(result + char, "utf8") > maxBytes) break;
    result += char;
  }
  return result;
}

export const version = fc.tuple(u8, u8, u8).map(([major, minor, patch]) => `${major}.${minor}.${patch}`);

export const keyInfo: fc.Arbitrary<KeyInfo> = fc.record({
  serial: utf8String(MAX_SERIAL_BYTES),
  firmwareVersion: version,
  protocolVersion: u8,
  capabilities: u32,
  licenseSetVersion: u32,
  publicKey: fixedBytes(PUBLIC_KEY_SIZE),
  keyTimeMs: u64,
  settleWindowMs: u32,
});

export const license: fc.Arbitrary<License> = fc
  .record({
    product: u32,
    seats: u16,
    borrowableShare: fc.double({ min: 0, max: 1, noNaN: true }),
    borrowDays: fc.integer({ min: 1, max: MAX_BORROW_DAYS }),
  })
  .map(({ product, seats, borrowableShare, borrowDays }) => ({
    product,
    seats,
    borrowable: Math.floor(seats * borrowableShare),
    borrowDays,
  }));

export const licenseUsage: fc.Arbitrary<LicenseUsage> = fc
  .tuple(license, u16, u16)
  .map(([base, borrowed, dummies]) => ({ ...base, borrowed, dummies }));

/** A license set with distinct products, as LICENSE_UPDATE requires. */
export const licenseSet = fc.uniqueArray(license, { maxLength: 40, selector: (entry) => entry.product });

export const borrowRecord: fc.Arbitrary<BorrowRecord> = fc
  .record({
    id: u64,
    product: u32,
    client: utf8String(MAX_CLIENT_BYTES),
    issuedAt: u64,
    expiresAt: u64,
    binding: fixedBytes(BINDING_SIZE),
    opId: fixedBytes(OP_ID_SIZE),
    dummyUntil: fc.option(u64, { nil: undefined }),
  })
  .map(({ dummyUntil, ...rest }) =>
    dummyUntil === undefined ? { ...rest, state: "active" as const } : { ...rest, state: "dummy" as const, dummyUntil },
  );

export const borrowRequest: fc.Arbitrary<BorrowRequest> = fc.record({
  opId: fixedBytes(OP_ID_SIZE),
  product: u32,
  days: u16,
  binding: fixedBytes(BINDING_SIZE),
  tag: fixedBytes(TAG_SIZE),
  client: utf8String(MAX_CLIENT_BYTES),
});

export const settleRequest: fc.Arbitrary<SettleRequest> = fc.record({
  opId: fixedBytes(OP_ID_SIZE),
  id: u64,
  binding: fixedBytes(BINDING_SIZE),
  tag: fixedBytes(TAG_SIZE),
});

export const settleResult: fc.Arbitrary<SettleResult> = fc.oneof(
  fc.record({ id: u64, outcome: fc.constant("settled" as const) }),
  fc.record({ id: u64, outcome: fc.constant("dummy" as const), dummyUntil: u64 }),
);

export const rebindRequest: fc.Arbitrary<RebindRequest> = fc.record({
  opId: fixedBytes(OP_ID_SIZE),
  id: u64,
  oldBinding: fixedBytes(BINDING_SIZE),
  tag: fixedBytes(TAG_SIZE),
  newBinding: fixedBytes(BINDING_SIZE),
});

export const listBorrowsRequest = fc.record({
  afterId: u64,
  maxCount: fc.integer({ min: 1, max: MAX_BORROWS_PER_PAGE }),
});

export const borrowPage = fc.record({
  records: fc.array(borrowRecord, { maxLength: MAX_BORROWS_PER_PAGE }),
  more: fc.boolean(),
});

export const licenseUpdateRequest = fc.record({ opId: fixedBytes(OP_ID_SIZE), licenses: licenseSet });

export const licenseUpdateResult = fc.record({ licenseSetVersion: u32, dummiesCreated: u16 });

export const signedLicenseUpdate = fc.record({
  serial: utf8String(MAX_SERIAL_BYTES),
  counter: fc.integer({ min: 1, max: 0xffffffff }),
  licenses: licenseSet,
  signature: fixedBytes(SIGNATURE_SIZE),
});

export const signedLicenseUpdateRequest = fc.record({ opId: fixedBytes(OP_ID_SIZE), update: signedLicenseUpdate });

export const signedLicenseUpdateResult = fc.record({ licenseSetVersion: u32, dummiesCreated: u16, updateCounter: u32 });

export const provisionRequest = fc.record({
  serial: utf8String(MAX_SERIAL_BYTES),
  vendorPublicKey: fixedBytes(PUBLIC_KEY_SIZE),
});

export const vendorInfo = fc.oneof(
  fc.record({ provisioned: fc.constant(false as const), updateCounter: u32 }),
  fc.record({
    provisioned: fc.constant(true as const),
    vendorPublicKey: fixedBytes(PUBLIC_KEY_SIZE),
    updateCounter: u32,
  }),
);

export const keyTime = fc.record({ keyTimeMs: u64, settleWindowMs: u32 });

export const pingData = fc.uint8Array({ maxLength: MAX_PING_BYTES });

/** What OP_STATUS can say: unknown, or a kind with its status (and a settle's outcome). */
export const opStatus: fc.Arbitrary<OpStatus> = fc.oneof(
  fc.constant({ known: false }),
  fc.record({
    known: fc.constant(true),
    kind: fc.constantFrom("borrow" as const, "rebind" as const, "license-update" as const),
    status: u8,
    borrowId: u64,
  }),
  fc.record({
    known: fc.constant(true),
    kind: fc.constant("settle" as const),
    status: u8,
    borrowId: u64,
    settleOutcome: fc.constantFrom("settled" as const, "dummy" as const),
  }),
);

/** Arbitrary bytes, biased towards the sizes of real bodies so decoders get past their first fields. */
export const anyBody = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.uint8Array({ minLength: 140, maxLength: 160 }),
  fc.uint8Array({ maxLength: 5000 }),
);

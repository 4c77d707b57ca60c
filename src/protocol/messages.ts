import { ByteReader, ByteWriter } from "./bytes.js";
import {
  AppCommand,
  BINDING_SIZE,
  INIT_NONCE_SIZE,
  MAX_BORROWS_PER_PAGE,
  MAX_CLIENT_BYTES,
  MAX_LICENSES,
  MAX_PING_BYTES,
  MAX_SERIAL_BYTES,
  NONCE_SIZE,
  OP_ID_SIZE,
  PUBLIC_KEY_SIZE,
  SIGNATURE_SIZE,
  Status,
  TAG_SIZE,
} from "./constants.js";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";
import { readSignedUpdate, writeSignedUpdate } from "./license-update.js";
import { badField, readLicense, readLicenseSet, writeLicense, writeLicenseSet } from "./licenses.js";
import type {
  BorrowPage,
  BorrowRecord,
  BorrowRequest,
  InitResponse,
  KeyInfo,
  KeyTime,
  LicenseUpdateRequest,
  LicenseUpdateResult,
  LicenseUsage,
  ListBorrowsRequest,
  OperationKind,
  OpStatus,
  ProvisionRequest,
  RebindRequest,
  SettleRequest,
  SettleResult,
  SignedLicenseUpdateRequest,
  SignedLicenseUpdateResult,
  VendorInfo,
} from "./types.js";

export type Empty = Record<never, never>;

/** Encoders and decoders of one application command's request and response bodies. */
export interface CommandCodec<Req, Res> {
  readonly command: AppCommand;
  readonly name: keyof typeof AppCommand;
  readonly mutating: boolean;
  encodeRequest(request: Req): Uint8Array;
  decodeRequest(body: Uint8Array): Req;
  encodeResponse(response: Res): Uint8Array;
  decodeResponse(body: Uint8Array): Res;
}

function readVersion(r: ByteReader): string {
  return `${r.u8("fwMajor")}.${r.u8("fwMinor")}.${r.u8("fwPatch")}`;
}

function writeVersion(w: ByteWriter, version: string): void {
  const parts = version.split(".").map((part) => Number.parseInt(part, 10));
  for (let i = 0; i < 3; i++) w.u8(Number.isFinite(parts[i]) ? parts[i]! : 0);
}

const STATE_CODES = { active: 0, dummy: 1 } as const;

/** Borrow record layout: id u64, product u32, issuedAt u64, expiresAt u64, binding 32, opId 16, state u8, dummyUntil u64, client str8. */
export function readBorrowRecord(r: ByteReader, what: string): BorrowRecord {
  const id = r.u64("id");
  const product = r.u32("product");
  const issuedAt = r.u64("issuedAt");
  const expiresAt = r.u64("expiresAt");
  const binding = r.bytesOf(BINDING_SIZE, "binding");
  const opId = r.bytesOf(OP_ID_SIZE, "opId");
  const stateCode = r.u8("state");
  const dummyUntil = r.u64("dummyUntil");
  const client = r.shortString("client", MAX_CLIENT_BYTES);
  if (stateCode === STATE_CODES.active) {
    return { id, product, client, issuedAt, expiresAt, binding, opId, state: "active" };
  }
  if (stateCode === STATE_CODES.dummy) {
    return { id, product, client, issuedAt, expiresAt, binding, opId, state: "dummy", dummyUntil };
  }
  throw badField(what, "state", `has unknown value ${stateCode}`);
}

export function writeBorrowRecord(w: ByteWriter, record: BorrowRecord): void {
  w.u64(record.id)
    .u32(record.product)
    .u64(record.issuedAt)
    .u64(record.expiresAt)
    .bytes(record.binding, BINDING_SIZE)
    .bytes(record.opId, OP_ID_SIZE)
    .u8(STATE_CODES[record.state])
    .u64(record.dummyUntil ?? 0)
    .shortString(record.client, MAX_CLIENT_BYTES);
}

function empty(): Uint8Array {
  return new Uint8Array(0);
}

function decodeEmpty(body: Uint8Array, what: string): Empty {
  new ByteReader(body, what).end();
  return {};
}

function define<Req, Res>(
  name: keyof typeof AppCommand,
  mutating: boolean,
  parts: Omit<CommandCodec<Req, Res>, "command" | "name" | "mutating">,
): CommandCodec<Req, Res> {
  return { command: AppCommand[name], name, mutating, ...parts };
}

export const GetInfo = define<Empty, KeyInfo>("GET_INFO", false, {
  encodeRequest: empty,
  decodeRequest: (body) => decodeEmpty(body, "GET_INFO request"),
  encodeResponse(info) {
    const w = new ByteWriter(96).shortString(info.serial, MAX_SERIAL_BYTES);
    writeVersion(w, info.firmwareVersion);
    return w
      .u8(info.protocolVersion)
      .u32(info.capabilities)
      .u32(info.licenseSetVersion)
      .bytes(info.publicKey, PUBLIC_KEY_SIZE)
      .u64(info.keyTimeMs)
      .u32(info.settleWindowMs)
      .finish();
  },
  decodeResponse(body) {
    const r = new ByteReader(body, "GET_INFO response");
    const serial = r.shortString("serial", MAX_SERIAL_BYTES);
    const firmwareVersion = readVersion(r);
    const info: KeyInfo = {
      serial,
      firmwareVersion,
      protocolVersion: r.u8("protocolVersion"),
      capabilities: r.u32("capabilities"),
      licenseSetVersion: r.u32("licenseSetVersion"),
      publicKey: r.bytesOf(PUBLIC_KEY_SIZE, "publicKey"),
      keyTimeMs: r.u64("keyTime"),
      settleWindowMs: r.u32("settleWindow"),
    };
    r.end();
    return info;
  },
});

export const ListLicenses = define<Empty, LicenseUsage[]>("LIST_LICENSES", false, {
  encodeRequest: empty,
  decodeRequest: (body) => decodeEmpty(body, "LIST_LICENSES request"),
  encodeResponse(licenses) {
    const w = new ByteWriter(2 + licenses.length * 14).u16(licenses.length);
    for (const license of licenses) {
      writeLicense(w, license);
      w.u16(license.borrowed).u16(license.dummies);
    }
    return w.finish();
  },
  decodeResponse(body) {
    const what = "LIST_LICENSES response";
    const r = new ByteReader(body, what);
    const count = r.u16("count");
    if (count > MAX_LICENSES) throw badField(what, "count", `${count} exceeds ${MAX_LICENSES}`);
    const licenses: LicenseUsage[] = [];
    for (let i = 0; i < count; i++) {
      const license = readLicense(r, what);
      licenses.push({ ...license, borrowed: r.u16("borrowed"), dummies: r.u16("dummies") });
    }
    r.end();
    return licenses;
  },
});

export const Borrow = define<BorrowRequest, BorrowRecord>("BORROW", true, {
  encodeRequest(request) {
    return new ByteWriter(160)
      .bytes(request.opId, OP_ID_SIZE)
      .u32(request.product)
      .u16(request.days)
      .bytes(request.binding, BINDING_SIZE)
      .bytes(request.tag, TAG_SIZE)
      .shortString(request.client, MAX_CLIENT_BYTES)
      .finish();
  },
  decodeRequest(body) {
    const r = new ByteReader(body, "BORROW request");
    const request: BorrowRequest = {
      opId: r.bytesOf(OP_ID_SIZE, "opId"),
      product: r.u32("product"),
      days: r.u16("days"),
      binding: r.bytesOf(BINDING_SIZE, "binding"),
      tag: r.bytesOf(TAG_SIZE, "tag"),
      client: r.shortString("client", MAX_CLIENT_BYTES),
    };
    r.end();
    return request;
  },
  encodeResponse(record) {
    const w = new ByteWriter(160);
    writeBorrowRecord(w, record);
    return w.finish();
  },
  decodeResponse(body) {
    const r = new ByteReader(body, "BORROW response");
    const record = readBorrowRecord(r, "BORROW response");
    r.end();
    return record;
  },
});

export const Settle = define<SettleRequest, SettleResult>("SETTLE", true, {
  encodeRequest(request) {
    return new ByteWriter(72)
      .bytes(request.opId, OP_ID_SIZE)
      .u64(request.id)
      .bytes(request.binding, BINDING_SIZE)
      .bytes(request.tag, TAG_SIZE)
      .finish();
  },
  decodeRequest(body) {
    const r = new ByteReader(body, "SETTLE request");
    const request: SettleRequest = {
      opId: r.bytesOf(OP_ID_SIZE, "opId"),
      id: r.u64("id"),
      binding: r.bytesOf(BINDING_SIZE, "binding"),
      tag: r.bytesOf(TAG_SIZE, "tag"),
    };
    r.end();
    return request;
  },
  encodeResponse(result) {
    return new ByteWriter(17)
      .u64(result.id)
      .u8(result.outcome === "settled" ? 0 : 1)
      .u64(result.dummyUntil ?? 0)
      .finish();
  },
  decodeResponse(body) {
    const what = "SETTLE response";
    const r = new ByteReader(body, what);
    const id = r.u64("id");
    const outcome = r.u8("outcome");
    const dummyUntil = r.u64("dummyUntil");
    r.end();
    if (outcome === 0) return { id, outcome: "settled" };
    if (outcome === 1) return { id, outcome: "dummy", dummyUntil };
    throw badField(what, "outcome", `has unknown value ${outcome}`);
  },
});

export const Rebind = define<RebindRequest, BorrowRecord>("REBIND", true, {
  encodeRequest(request) {
    return new ByteWriter(104)
      .bytes(request.opId, OP_ID_SIZE)
      .u64(request.id)
      .bytes(request.oldBinding, BINDING_SIZE)
      .bytes(request.tag, TAG_SIZE)
      .bytes(request.newBinding, BINDING_SIZE)
      .finish();
  },
  decodeRequest(body) {
    const r = new ByteReader(body, "REBIND request");
    const request: RebindRequest = {
      opId: r.bytesOf(OP_ID_SIZE, "opId"),
      id: r.u64("id"),
      oldBinding: r.bytesOf(BINDING_SIZE, "oldBinding"),
      tag: r.bytesOf(TAG_SIZE, "tag"),
      newBinding: r.bytesOf(BINDING_SIZE, "newBinding"),
    };
    r.end();
    return request;
  },
  encodeResponse: Borrow.encodeResponse,
  decodeResponse(body) {
    const r = new ByteReader(body, "REBIND response");
    const record = readBorrowRecord(r, "REBIND response");
    r.end();
    return record;
  },
});

export const ListBorrows = define<ListBorrowsRequest, BorrowPage>("LIST_BORROWS", false, {
  encodeRequest(request) {
    return new ByteWriter(9).u64(request.afterId).u8(request.maxCount).finish();
  },
  decodeRequest(body) {
    const what = "LIST_BORROWS request";
    const r = new ByteReader(body, what);
    const afterId = r.u64("afterId");
    const maxCount = r.u8("maxCount");
    r.end();
    if (maxCount < 1 || maxCount > MAX_BORROWS_PER_PAGE) {
      throw badField(what, "maxCount", `must be 1..${MAX_BORROWS_PER_PAGE}`);
    }
    return { afterId, maxCount };
  },
  encodeResponse(page) {
    const w = new ByteWriter(2 + page.records.length * 150).u8(page.records.length).u8(page.more ? 1 : 0);
    for (const record of page.records) writeBorrowRecord(w, record);
    return w.finish();
  },
  decodeResponse(body) {
    const what = "LIST_BORROWS response";
    const r = new ByteReader(body, what);
    const count = r.u8("count");
    const more = r.u8("more");
    if (count > MAX_BORROWS_PER_PAGE) throw badField(what, "count", `${count} exceeds ${MAX_BORROWS_PER_PAGE}`);
    if (more > 1) throw badField(what, "more", `has unknown value ${more}`);
    const records: BorrowRecord[] = [];
    for (let i = 0; i < count; i++) records.push(readBorrowRecord(r, what));
    r.end();
    return { records, more: more === 1 };
  },
});

export const LicenseUpdate = define<LicenseUpdateRequest, LicenseUpdateResult>("LICENSE_UPDATE", true, {
  encodeRequest(request) {
    const w = new ByteWriter(18 + request.licenses.length * 10).bytes(request.opId, OP_ID_SIZE);
    writeLicenseSet(w, request.licenses);
    return w.finish();
  },
  decodeRequest(body) {
    const what = "LICENSE_UPDATE request";
    const r = new ByteReader(body, what);
    const opId = r.bytesOf(OP_ID_SIZE, "opId");
    const licenses = readLicenseSet(r, what);
    r.end();
    return { opId, licenses };
  },
  encodeResponse(result) {
    return new ByteWriter(6).u32(result.licenseSetVersion).u16(result.dummiesCreated).finish();
  },
  decodeResponse(body) {
    const r = new ByteReader(body, "LICENSE_UPDATE response");
    const result = { licenseSetVersion: r.u32("licenseSetVersion"), dummiesCreated: r.u16("dummiesCreated") };
    r.end();
    return result;
  },
});

export const GetTime = define<Empty, KeyTime>("GET_TIME", false, {
  encodeRequest: empty,
  decodeRequest: (body) => decodeEmpty(body, "GET_TIME request"),
  encodeResponse(time) {
    return new ByteWriter(12).u64(time.keyTimeMs).u32(time.settleWindowMs).finish();
  },
  decodeResponse(body) {
    const r = new ByteReader(body, "GET_TIME response");
    const time = { keyTimeMs: r.u64("keyTime"), settleWindowMs: r.u32("settleWindow") };
    r.end();
    return time;
  },
});

export const Ping = define<Uint8Array, Uint8Array>("PING", false, {
  encodeRequest(data) {
    if (data.length > MAX_PING_BYTES) throw new RangeError(`ping data over ${MAX_PING_BYTES} bytes`);
    return Uint8Array.from(data);
  },
  decodeRequest(body) {
    if (body.length > MAX_PING_BYTES) throw badField("PING request", "data", `exceeds ${MAX_PING_BYTES} bytes`);
    return Uint8Array.from(body);
  },
  encodeResponse: (data) => Uint8Array.from(data),
  decodeResponse: (body) => Uint8Array.from(body),
});

const OP_KIND_CODES: Readonly<Record<OperationKind, number>> = {
  borrow: 1,
  settle: 2,
  rebind: 3,
  "license-update": 4,
};
const OP_KINDS_BY_CODE = new Map<number, OperationKind>(
  Object.entries(OP_KIND_CODES).map(([kind, code]) => [code, kind as OperationKind]),
);

export const OpStatusQuery = define<{ opId: Uint8Array }, OpStatus>("OP_STATUS", false, {
  encodeRequest: (request) => new ByteWriter(16).bytes(request.opId, OP_ID_SIZE).finish(),
  decodeRequest(body) {
    const r = new ByteReader(body, "OP_STATUS request");
    const opId = r.bytesOf(OP_ID_SIZE, "opId");
    r.end();
    return { opId };
  },
  encodeResponse(status) {
    if (!status.known) return new ByteWriter(12).u8(0).u8(0).u8(0).u64(0).u8(0).finish();
    return new ByteWriter(12)
      .u8(1)
      .u8(OP_KIND_CODES[status.kind ?? "borrow"])
      .u8(status.status ?? Status.OK)
      .u64(status.borrowId ?? 0)
      .u8(status.settleOutcome === "dummy" ? 1 : 0)
      .finish();
  },
  decodeResponse(body) {
    const what = "OP_STATUS response";
    const r = new ByteReader(body, what);
    const known = r.u8("known");
    const kindCode = r.u8("kind");
    const status = r.u8("status");
    const borrowId = r.u64("borrowId");
    const settle = r.u8("settleOutcome");
    r.end();
    if (known === 0) return { known: false };
    if (known !== 1) throw badField(what, "known", `has unknown value ${known}`);
    const kind = OP_KINDS_BY_CODE.get(kindCode);
    if (kind === undefined) throw badField(what, "kind", `has unknown value ${kindCode}`);
    if (settle > 1) throw badField(what, "settleOutcome", `has unknown value ${settle}`);
    return {
      known: true,
      kind,
      status,
      borrowId,
      ...(kind === "settle" ? { settleOutcome: settle === 1 ? "dummy" : "settled" } : {}),
    } satisfies OpStatus;
  },
});

export const SignedLicenseUpdateCommand = define<SignedLicenseUpdateRequest, SignedLicenseUpdateResult>(
  "SIGNED_LICENSE_UPDATE",
  true,
  {
    encodeRequest(request) {
      const w = new ByteWriter(128 + request.update.licenses.length * 10).bytes(request.opId, OP_ID_SIZE);
      writeSignedUpdate(w, request.update);
      return w.finish();
    },
    decodeRequest(body) {
      const what = "SIGNED_LICENSE_UPDATE request";
      const r = new ByteReader(body, what);
      const opId = r.bytesOf(OP_ID_SIZE, "opId");
      const update = readSignedUpdate(r, what);
      r.end();
      return { opId, update };
    },
    encodeResponse(result) {
      return new ByteWriter(10)
        .u32(result.licenseSetVersion)
        .u16(result.dummiesCreated)
        .u32(result.updateCounter)
        .finish();
    },
    decodeResponse(body) {
      const r = new ByteReader(body, "SIGNED_LICENSE_UPDATE response");
      const result = {
        licenseSetVersion: r.u32("licenseSetVersion"),
        dummiesCreated: r.u16("dummiesCreated"),
        updateCounter: r.u32("updateCounter"),
      };
      r.end();
      return result;
    },
  },
);

function writeVendorInfo(info: VendorInfo): Uint8Array {
  const w = new ByteWriter(37).u8(info.provisioned ? 1 : 0);
  w.bytes(
    info.provisioned && info.vendorPublicKey ? info.vendorPublicKey : new Uint8Array(PUBLIC_KEY_SIZE),
    PUBLIC_KEY_SIZE,
  );
  return w.u32(info.updateCounter).finish();
}

function readVendorInfo(body: Uint8Array, what: string): VendorInfo {
  const r = new ByteReader(body, what);
  const provisioned = r.u8("provisioned");
  const vendorPublicKey = r.bytesOf(PUBLIC_KEY_SIZE, "vendorPublicKey");
  const updateCounter = r.u32("updateCounter");
  r.end();
  if (provisioned === 0) return { provisioned: false, updateCounter };
  if (provisioned !== 1) throw badField(what, "provisioned", `has unknown value ${provisioned}`);
  return { provisioned: true, vendorPublicKey, updateCounter };
}

export const Provision = define<ProvisionRequest, VendorInfo>("PROVISION", true, {
  encodeRequest(request) {
    return new ByteWriter(66)
      .shortString(request.serial, MAX_SERIAL_BYTES)
      .bytes(request.vendorPublicKey, PUBLIC_KEY_SIZE)
      .finish();
  },
  decodeRequest(body) {
    const r = new ByteReader(body, "PROVISION request");
    const request = {
      serial: r.shortString("serial", MAX_SERIAL_BYTES),
      vendorPublicKey: r.bytesOf(PUBLIC_KEY_SIZE, "vendorPublicKey"),
    };
    r.end();
    return request;
  },
  encodeResponse: writeVendorInfo,
  decodeResponse: (body) => readVendorInfo(body, "PROVISION response"),
});

export const VendorInfoQuery = define<Empty, VendorInfo>("VENDOR_INFO", false, {
  encodeRequest: empty,
  decodeRequest: (body) => decodeEmpty(body, "VENDOR_INFO request"),
  encodeResponse: writeVendorInfo,
  decodeResponse: (body) => readVendorInfo(body, "VENDOR_INFO response"),
});

export const COMMAND_CODECS = {
  GET_INFO: GetInfo,
  LIST_LICENSES: ListLicenses,
  BORROW: Borrow,
  SETTLE: Settle,
  REBIND: Rebind,
  LIST_BORROWS: ListBorrows,
  LICENSE_UPDATE: LicenseUpdate,
  GET_TIME: GetTime,
  PING: Ping,
  OP_STATUS: OpStatusQuery,
  SIGNED_LICENSE_UPDATE: SignedLicenseUpdateCommand,
  PROVISION: Provision,
  VENDOR_INFO: VendorInfoQuery,
} as const;

/** Request envelope inside MSG: nonce(16) | command(1) | body. */
export interface RequestEnvelope {
  readonly nonce: Uint8Array;
  readonly command: number;
  readonly body: Uint8Array;
}

export function encodeRequestEnvelope(envelope: RequestEnvelope): Uint8Array {
  return new ByteWriter(NONCE_SIZE + 1 + envelope.body.length)
    .bytes(envelope.nonce, NONCE_SIZE)
    .u8(envelope.command)
    .bytes(envelope.body)
    .finish();
}

export function decodeRequestEnvelope(payload: Uint8Array): RequestEnvelope {
  const r = new ByteReader(payload, "request");
  return { nonce: r.bytesOf(NONCE_SIZE, "nonce"), command: r.u8("command"), body: r.rest() };
}

/** Response envelope inside MSG: command(1) | status(1) | body | signature(64). */
export interface ResponseEnvelope {
  readonly command: number;
  readonly status: number;
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
}

export function encodeResponseEnvelope(envelope: ResponseEnvelope): Uint8Array {
  return new ByteWriter(2 + envelope.body.length + SIGNATURE_SIZE)
    .u8(envelope.command)
    .u8(envelope.status)
    .bytes(envelope.body)
    .bytes(envelope.signature, SIGNATURE_SIZE)
    .finish();
}

export function decodeResponseEnvelope(payload: Uint8Array): ResponseEnvelope {
  if (payload.length < 2 + SIGNATURE_SIZE) {
    throw new ProtocolError(ProtocolErrorCode.TRUNCATED, `response of ${payload.length} bytes is shorter than 66`, {
      length: payload.length,
    });
  }
  return {
    command: payload[0]!,
    status: payload[1]!,
    body: payload.slice(2, payload.length - SIGNATURE_SIZE),
    signature: payload.slice(payload.length - SIGNATURE_SIZE),
  };
}

/** Body of a response whose status is not OK: a short reason for people. */
export function encodeErrorBody(reason: string): Uint8Array {
  const encoded = new TextEncoder().encode(reason).subarray(0, 200);
  return new ByteWriter(encoded.length + 1).u8(encoded.length).bytes(encoded).finish();
}

export function decodeErrorBody(body: Uint8Array): string {
  if (body.length === 0) return "";
  const r = new ByteReader(body, "error response");
  const text = r.shortString("reason", 255);
  return text;
}

/** INIT frame payloads. Request: nonce(8). Response: nonce(8) cid(4) protocolVersion(1) firmware(3) capabilities(4). */
export function encodeInitRequest(nonce: Uint8Array): Uint8Array {
  return new ByteWriter(INIT_NONCE_SIZE).bytes(nonce, INIT_NONCE_SIZE).finish();
}

export function decodeInitRequest(payload: Uint8Array): Uint8Array {
  const r = new ByteReader(payload, "INIT request");
  const nonce = r.bytesOf(INIT_NONCE_SIZE, "nonce");
  r.end();
  return nonce;
}

export function encodeInitResponse(response: InitResponse): Uint8Array {
  const w = new ByteWriter(20).bytes(response.nonce, INIT_NONCE_SIZE).u32(response.cid).u8(response.protocolVersion);
  writeVersion(w, response.firmwareVersion);
  return w.u32(response.capabilities).finish();
}

export function decodeInitResponse(payload: Uint8Array): InitResponse {
  const r = new ByteReader(payload, "INIT response");
  const nonce = r.bytesOf(INIT_NONCE_SIZE, "nonce");
  const cid = r.u32("cid");
  const protocolVersion = r.u8("protocolVersion");
  const firmwareVersion = readVersion(r);
  const capabilities = r.u32("capabilities");
  r.end();
  return { nonce, cid, protocolVersion, firmwareVersion, capabilities };
}

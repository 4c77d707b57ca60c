import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import {
  BINDING_SIZE,
  DAY_MS,
  DEFAULT_SETTLE_WINDOW_MS,
  fromHex,
  type KeyRecordState,
  type License,
  MAX_BORROW_DAYS,
  MAX_SERIAL_BYTES,
  MAX_UPDATE_COUNTER,
  OP_ID_SIZE,
  type OperationKind,
  PUBLIC_KEY_SIZE,
  rawPublicKey,
  type SettleOutcome,
  TAG_SIZE,
  toHex,
} from "../../src/protocol/index.js";
import { VirtualKeyError, VirtualKeyErrorCode } from "../errors.js";

/**
 * How far a virtual key's clock may be moved from real time, either way: 100 years. Far beyond any
 * borrow period and settle window, and it keeps every key time (and every expiry computed from
 * it) an exact integer of milliseconds that a Date and the protocol's u64 can hold.
 */
export const MAX_CLOCK_OFFSET_MS = 36_525 * DAY_MS;
export const DEFAULT_FIRMWARE_VERSION = "1.0.0";
/** The operation journal keeps the outcome of this many most recent mutating operations. */
export const JOURNAL_LIMIT = 4096;

/** A borrow record as the key stores it: unlike the wire record it holds the tag and its period. */
export interface StoredBorrow {
  readonly id: number;
  readonly opId: Uint8Array;
  readonly product: number;
  readonly client: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  binding: Uint8Array;
  readonly tag: Uint8Array;
  /** The license's borrow period when the borrow was made; used when the product later disappears. */
  readonly borrowDays: number;
  state: KeyRecordState;
  dummyUntil?: number;
}

/** What a mutating operation answered, so that a retry with the same opId answers the same. */
export interface JournalEntry {
  readonly kind: OperationKind;
  readonly status: number;
  readonly borrowId?: number;
  readonly settleOutcome?: SettleOutcome;
  readonly dummyUntil?: number;
  readonly licenseSetVersion?: number;
  readonly dummiesCreated?: number;
  /** For a signed license update: the counter it carried. */
  readonly updateCounter?: number;
}

/** The whole mutable state of one key. Only the firmware mutates it. */
export interface KeyState {
  readonly serial: string;
  readonly firmwareVersion: string;
  readonly privateKey: KeyObject;
  /** Kept beside the KeyObject so that persisting never re-exports the key. */
  readonly privateKeyPkcs8: string;
  readonly publicKey: Uint8Array;
  /** Key clock = real time + this offset (tests move it; persisted like a real key's RTC). */
  clockOffsetMs: number;
  readonly settleWindowMs: number;
  licenseSetVersion: number;
  licenses: Map<number, License>;
  /** The vendor whose signature a license update needs; undefined until provisioned. */
  vendorPublicKey: Uint8Array | undefined;
  /** Counter of the last signed update applied (0 before the first): the next one must be above it. */
  updateCounter: number;
  nextBorrowId: number;
  /** Insertion order is id order: ids only grow. */
  readonly borrows: Map<number, StoredBorrow>;
  /** Keyed by opId in hex; insertion order is age (oldest first). */
  readonly journal: Map<string, JournalEntry>;
  /** Earliest key time at which rule K4 or K5 changes a record; not persisted. */
  nextTransitionAt: number;
}

export interface NewKeyOptions {
  readonly serial: string;
  readonly licenses?: readonly License[];
  readonly firmwareVersion?: string;
  readonly settleWindowMs?: number;
  readonly clockOffsetMs?: number;
  /** Provisions the new key with this vendor public key (raw 32 bytes), as a factory would. */
  readonly vendorPublicKey?: Uint8Array;
}

export function createKeyState(options: NewKeyOptions): KeyState {
  validateSerial(options.serial);
  const { privateKey } = generateKeyPairSync("ed25519");
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" }).toString("base64");
  return {
    serial: options.serial,
    firmwareVersion: options.firmwareVersion ?? DEFAULT_FIRMWARE_VERSION,
    privateKey,
    privateKeyPkcs8: pkcs8,
    publicKey: rawPublicKey(privateKey),
    clockOffsetMs: options.clockOffsetMs ?? 0,
    settleWindowMs: options.settleWindowMs ?? DEFAULT_SETTLE_WINDOW_MS,
    licenseSetVersion: 1,
    licenses: new Map((options.licenses ?? []).map((license) => [license.product, { ...license }])),
    vendorPublicKey: options.vendorPublicKey === undefined ? undefined : Uint8Array.from(options.vendorPublicKey),
    updateCounter: 0,
    nextBorrowId: 1,
    borrows: new Map(),
    journal: new Map(),
    nextTransitionAt: Number.NEGATIVE_INFINITY,
  };
}

export function validateSerial(serial: string): void {
  const bytes = Buffer.byteLength(serial, "utf8");
  if (bytes === 0 || bytes > MAX_SERIAL_BYTES) {
    throw new VirtualKeyError(VirtualKeyErrorCode.BAD_OPTION, `serial must be 1..${MAX_SERIAL_BYTES} bytes`, {
      details: { serial },
    });
  }
}

/**
 * The persisted form: plain JSON, binary fields in hex, the private key as PKCS#8 DER base64.
 * Format 2 added the vendor key and the update counter; a format 1 document (written before
 * keys were provisioned) reads as an unprovisioned key.
 */
export interface KeyStateDocument {
  readonly format: 2;
  readonly serial: string;
  readonly firmwareVersion: string;
  readonly privateKeyPkcs8: string;
  readonly clockOffsetMs: number;
  readonly settleWindowMs: number;
  readonly licenseSetVersion: number;
  readonly licenses: readonly License[];
  /** Hex; absent while the key is not provisioned. */
  readonly vendorPublicKey?: string;
  readonly updateCounter: number;
  readonly nextBorrowId: number;
  readonly borrows: readonly StoredBorrowDocument[];
  readonly journal: readonly JournalDocumentEntry[];
}

export interface StoredBorrowDocument {
  readonly id: number;
  readonly opId: string;
  readonly product: number;
  readonly client: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly binding: string;
  readonly tag: string;
  readonly borrowDays: number;
  readonly state: KeyRecordState;
  readonly dummyUntil?: number;
}

export interface JournalDocumentEntry extends JournalEntry {
  readonly opId: string;
}

/**
 * Documents of records and journal entries already converted, so a save converts only what
 * changed since the last one: the firmware saves on every mutating command, and rebuilding the
 * hex of every record each time made a save O(records) in allocations as well as in time.
 */
const borrowDocuments = new WeakMap<StoredBorrow, StoredBorrowDocument>();
const journalDocuments = new WeakMap<JournalEntry, JournalDocumentEntry>();

function borrowDocument(b: StoredBorrow): StoredBorrowDocument {
  const cached = borrowDocuments.get(b);
  // Only binding (REBIND), state and dummyUntil change on a stored record; binding is replaced, never mutated.
  if (
    cached !== undefined &&
    cached.state === b.state &&
    cached.dummyUntil === b.dummyUntil &&
    boundTo.get(cached) === b.binding
  ) {
    return cached;
  }
  const document: StoredBorrowDocument = {
    id: b.id,
    opId: toHex(b.opId),
    product: b.product,
    client: b.client,
    issuedAt: b.issuedAt,
    expiresAt: b.expiresAt,
    binding: toHex(b.binding),
    tag: toHex(b.tag),
    borrowDays: b.borrowDays,
    state: b.state,
    ...(b.dummyUntil === undefined ? {} : { dummyUntil: b.dummyUntil }),
  };
  borrowDocuments.set(b, document);
  boundTo.set(document, b.binding);
  return document;
}

/** The binding bytes a cached document was made from. */
const boundTo = new WeakMap<StoredBorrowDocument, Uint8Array>();

function journalDocument(opId: string, entry: JournalEntry): JournalDocumentEntry {
  const cached = journalDocuments.get(entry);
  if (cached !== undefined && cached.opId === opId) return cached;
  const document = { opId, ...entry };
  journalDocuments.set(entry, document);
  return document;
}

export function toDocument(state: KeyState): KeyStateDocument {
  const borrows: StoredBorrowDocument[] = [];
  for (const b of state.borrows.values()) borrows.push(borrowDocument(b));
  const journal: JournalDocumentEntry[] = [];
  for (const [opId, entry] of state.journal) journal.push(journalDocument(opId, entry));
  return {
    format: 2,
    serial: state.serial,
    firmwareVersion: state.firmwareVersion,
    privateKeyPkcs8: state.privateKeyPkcs8,
    clockOffsetMs: state.clockOffsetMs,
    settleWindowMs: state.settleWindowMs,
    licenseSetVersion: state.licenseSetVersion,
    licenses: [...state.licenses.values()].map((license) => ({ ...license })),
    ...(state.vendorPublicKey === undefined ? {} : { vendorPublicKey: toHex(state.vendorPublicKey) }),
    updateCounter: state.updateCounter,
    nextBorrowId: state.nextBorrowId,
    borrows,
    journal,
  };
}

function corrupt(message: string): VirtualKeyError {
  return new VirtualKeyError(VirtualKeyErrorCode.STATE_CORRUPT, `virtual key state: ${message}`);
}

function expectInt(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw corrupt(`${field} is not an integer in ${min}..${max}`);
  }
  return value;
}

function expectString(value: unknown, field: string): string {
  if (typeof value !== "string") throw corrupt(`${field} is not a string`);
  return value;
}

function expectHex(value: unknown, field: string, size: number): Uint8Array {
  const text = expectString(value, field);
  if (text.length !== size * 2 || !/^[0-9a-f]*$/.test(text)) throw corrupt(`${field} is not ${size} bytes of hex`);
  return fromHex(text);
}

function expectRecord(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw corrupt(`${field} is not an object`);
  return value as Record<string, unknown>;
}

function expectArray(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw corrupt(`${field} is not an array`);
  return value;
}

const OPERATION_KINDS: ReadonlySet<string> = new Set(["borrow", "settle", "rebind", "license-update"]);

/** Rebuilds a state from its document, checking every field: a checksum only proves the bytes are intact. */
export function fromDocument(input: unknown): KeyState {
  const doc = expectRecord(input, "document");
  if (doc.format !== 1 && doc.format !== 2) throw corrupt(`unknown format ${String(doc.format)}`);
  const provisioned = doc.format === 2 && doc.vendorPublicKey !== undefined;
  const pkcs8 = expectString(doc.privateKeyPkcs8, "privateKeyPkcs8");
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(pkcs8, "base64"), format: "der", type: "pkcs8" });
  } catch (error) {
    throw new VirtualKeyError(VirtualKeyErrorCode.STATE_CORRUPT, "virtual key state: private key unreadable", {
      cause: error,
    });
  }
  if (privateKey.asymmetricKeyType !== "ed25519") throw corrupt("private key is not Ed25519");
  const licenses = new Map<number, License>();
  for (const [i, raw] of expectArray(doc.licenses, "licenses").entries()) {
    const l = expectRecord(raw, `licenses[${i}]`);
    const license: License = {
      product: expectInt(l.product, "product", 0, 0xffffffff),
      seats: expectInt(l.seats, "seats", 0, 0xffff),
      borrowable: expectInt(l.borrowable, "borrowable", 0, 0xffff),
      borrowDays: expectInt(l.borrowDays, "borrowDays", 1, MAX_BORROW_DAYS),
    };
    licenses.set(license.product, license);
  }
  const borrows = new Map<number, StoredBorrow>();
  for (const [i, raw] of expectArray(doc.borrows, "borrows").entries()) {
    const b = expectRecord(raw, `borrows[${i}]`);
    const state = b.state;
    if (state !== "active" && state !== "dummy") throw corrupt(`borrows[${i}].state is invalid`);
    const record: StoredBorrow = {
      id: expectInt(b.id, "id", 1),
      opId: expectHex(b.opId, "opId", OP_ID_SIZE),
      product: expectInt(b.product, "product", 0, 0xffffffff),
      client: expectString(b.client, "client"),
      issuedAt: expectInt(b.issuedAt, "issuedAt"),
      expiresAt: expectInt(b.expiresAt, "expiresAt"),
      binding: expectHex(b.binding, "binding", BINDING_SIZE),
      tag: expectHex(b.tag, "tag", TAG_SIZE),
      borrowDays: expectInt(b.borrowDays, "borrowDays", 1, MAX_BORROW_DAYS),
      state,
      ...(state === "dummy" ? { dummyUntil: expectInt(b.dummyUntil, "dummyUntil") } : {}),
    };
    borrows.set(record.id, record);
  }
  const journal = new Map<string, JournalEntry>();
  for (const [i, raw] of expectArray(doc.journal, "journal").entries()) {
    const { opId, ...entry } = expectRecord(raw, `journal[${i}]`);
    expectHex(opId, "journal opId", OP_ID_SIZE);
    if (typeof entry.kind !== "string" || !OPERATION_KINDS.has(entry.kind)) throw corrupt(`journal[${i}].kind`);
    expectInt(entry.status, "journal status", 0, 0xff);
    journal.set(opId as string, entry as unknown as JournalEntry);
  }
  const nextBorrowId = expectInt(doc.nextBorrowId, "nextBorrowId", 1);
  for (const id of borrows.keys()) if (id >= nextBorrowId) throw corrupt(`borrow id ${id} is not below nextBorrowId`);
  return {
    serial: expectString(doc.serial, "serial"),
    firmwareVersion: expectString(doc.firmwareVersion, "firmwareVersion"),
    privateKey,
    privateKeyPkcs8: pkcs8,
    publicKey: rawPublicKey(privateKey),
    clockOffsetMs: expectInt(doc.clockOffsetMs, "clockOffsetMs", -MAX_CLOCK_OFFSET_MS, MAX_CLOCK_OFFSET_MS),
    settleWindowMs: expectInt(doc.settleWindowMs, "settleWindowMs", 0, 0xffffffff),
    licenseSetVersion: expectInt(doc.licenseSetVersion, "licenseSetVersion", 0, 0xffffffff),
    licenses,
    vendorPublicKey: provisioned ? expectHex(doc.vendorPublicKey, "vendorPublicKey", PUBLIC_KEY_SIZE) : undefined,
    updateCounter: doc.format === 2 ? expectInt(doc.updateCounter, "updateCounter", 0, MAX_UPDATE_COUNTER) : 0,
    nextBorrowId,
    borrows,
    journal,
    nextTransitionAt: Number.NEGATIVE_INFINITY,
  };
}

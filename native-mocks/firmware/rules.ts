import { timingSafeEqual } from "node:crypto";
import {
  type BorrowPage,
  type BorrowRecord,
  type BorrowRequest,
  Capability,
  DAY_MS,
  ed25519PublicKey,
  judgeLicenseUpdate,
  type KeyInfo,
  type License,
  type LicenseUsage,
  type ListBorrowsRequest,
  type OpStatus,
  PROTOCOL_VERSION,
  type ProvisionRequest,
  type RebindRequest,
  type SettleRequest,
  type SettleResult,
  type SignedLicenseUpdateRequest,
  type SignedLicenseUpdateResult,
  Status,
  toHex,
  type VendorInfo,
} from "../../src/protocol/index.js";
import { JOURNAL_LIMIT, type JournalEntry, type KeyState, type StoredBorrow } from "./key-state.js";

/**
 * Rules K1–K8 of the key model (PROTOCOL.md section 10) and vendor provisioning over a KeyState. Pure logic: no framing,
 * no signing, no I/O. A refusal is a `Refusal` result, never an exception.
 */

/** The unsigned LICENSE_UPDATE is not among them: this key takes only vendor-signed updates. */
export const KEY_CAPABILITIES =
  Capability.REBIND | Capability.OP_STATUS | Capability.KEEPALIVE | Capability.CANCEL | Capability.VENDOR_SIGNED;

export interface Refusal {
  readonly ok: false;
  readonly status: Status;
  readonly reason: string;
}
export interface Success<T> {
  readonly ok: true;
  readonly value: T;
  /** True when the state changed and must be persisted before answering. */
  readonly mutated: boolean;
}
export type RuleResult<T> = Success<T> | Refusal;

function refuse(status: Status, reason: string): Refusal {
  return { ok: false, status, reason };
}

function success<T>(value: T, mutated: boolean): Success<T> {
  return { ok: true, value, mutated };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Borrow period of a record: the current license's, or the one it was borrowed under when the product is gone. */
function periodMs(state: KeyState, record: StoredBorrow): number {
  return (state.licenses.get(record.product)?.borrowDays ?? record.borrowDays) * DAY_MS;
}

export function toWireRecord(record: StoredBorrow): BorrowRecord {
  const base = {
    id: record.id,
    product: record.product,
    client: record.client,
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt,
    binding: record.binding,
    opId: record.opId,
  };
  return record.state === "dummy"
    ? { ...base, state: "dummy", dummyUntil: record.dummyUntil ?? 0 }
    : { ...base, state: "active" };
}

function makeDummy(state: KeyState, record: StoredBorrow, dummyUntil: number): void {
  record.state = "dummy";
  record.dummyUntil = dummyUntil;
  state.nextTransitionAt = Math.min(state.nextTransitionAt, dummyUntil);
}

/**
 * K4 and K5, applied lazily: an active record unsettled past expiresAt + settle window turns into
 * a dummy by itself; a dummy disappears at dummyUntil. Cheap when nothing is due: the earliest
 * transition time is cached. Returns true when a record changed.
 */
export function applyTime(state: KeyState, now: number): boolean {
  if (now < state.nextTransitionAt) return false;
  let changed = false;
  let next = Number.POSITIVE_INFINITY;
  for (const record of state.borrows.values()) {
    if (record.state === "active") {
      const deadline = record.expiresAt + state.settleWindowMs;
      if (now < deadline) {
        next = Math.min(next, deadline);
        continue;
      }
      record.state = "dummy";
      record.dummyUntil = deadline + periodMs(state, record);
      changed = true;
    }
    const until = record.dummyUntil ?? 0;
    if (now >= until) {
      state.borrows.delete(record.id);
      changed = true;
    } else {
      next = Math.min(next, until);
    }
  }
  state.nextTransitionAt = next;
  return changed;
}

function remember(state: KeyState, opIdHex: string, entry: JournalEntry): void {
  state.journal.delete(opIdHex);
  state.journal.set(opIdHex, entry);
  while (state.journal.size > JOURNAL_LIMIT) {
    const oldest = state.journal.keys().next().value;
    if (oldest === undefined) break;
    state.journal.delete(oldest);
  }
}

/** An earlier successful operation with this opId, or a refusal when the opId belongs to another kind of operation. */
function previous(state: KeyState, opIdHex: string, kind: JournalEntry["kind"]): JournalEntry | Refusal | undefined {
  const entry = state.journal.get(opIdHex);
  if (entry === undefined || entry.status !== Status.OK) return undefined;
  if (entry.kind !== kind) return refuse(Status.BAD_REQUEST, `opId already used by a ${entry.kind}`);
  return entry;
}

function isRefusal(value: unknown): value is Refusal {
  return typeof value === "object" && value !== null && (value as Refusal).ok === false;
}

/** Records a refusal of a mutating command in the journal (for OP_STATUS) and returns it. */
function journalRefusal(
  state: KeyState,
  opIdHex: string,
  kind: JournalEntry["kind"],
  refusal: Refusal,
  borrowId?: number,
): Refusal {
  remember(state, opIdHex, { kind, status: refusal.status, ...(borrowId === undefined ? {} : { borrowId }) });
  return refusal;
}

/** K1 + K2. */
export function borrow(state: KeyState, request: BorrowRequest, now: number): RuleResult<BorrowRecord> {
  const opIdHex = toHex(request.opId);
  const earlier = previous(state, opIdHex, "borrow");
  if (isRefusal(earlier)) return earlier;
  if (earlier !== undefined) {
    const record = state.borrows.get(earlier.borrowId ?? 0);
    if (record === undefined) return refuse(Status.BAD_REQUEST, "opId already used");
    return success(toWireRecord(record), false);
  }
  const license = state.licenses.get(request.product);
  const refusal = (status: Status, reason: string) => journalRefusal(state, opIdHex, "borrow", refuse(status, reason));
  if (license === undefined) return refusal(Status.UNKNOWN_PRODUCT, `product ${request.product} is not licensed`);
  if (request.client.length === 0) return refusal(Status.BAD_REQUEST, "client is empty");
  if (request.days < 1 || request.days > license.borrowDays) {
    return refusal(Status.BAD_REQUEST, `days must be 1..${license.borrowDays}`);
  }
  let held = 0;
  for (const record of state.borrows.values()) {
    if (record.product !== request.product) continue;
    if (record.state === "dummy") {
      return refusal(Status.NO_BORROWABLE, "No more licenses are available for borrowing (a borrow dummy exists)");
    }
    held++;
  }
  if (held >= license.borrowable) {
    return refusal(Status.NO_BORROWABLE, "No more licenses are available for borrowing");
  }
  const record: StoredBorrow = {
    id: state.nextBorrowId++,
    opId: Uint8Array.from(request.opId),
    product: request.product,
    client: request.client,
    issuedAt: now,
    expiresAt: now + request.days * DAY_MS,
    binding: Uint8Array.from(request.binding),
    tag: Uint8Array.from(request.tag),
    borrowDays: license.borrowDays,
    state: "active",
  };
  state.borrows.set(record.id, record);
  state.nextTransitionAt = Math.min(state.nextTransitionAt, record.expiresAt + state.settleWindowMs);
  remember(state, opIdHex, { kind: "borrow", status: Status.OK, borrowId: record.id });
  return success(toWireRecord(record), true);
}

/** K3. */
export function settle(state: KeyState, request: SettleRequest, now: number): RuleResult<SettleResult> {
  const opIdHex = toHex(request.opId);
  const earlier = previous(state, opIdHex, "settle");
  if (isRefusal(earlier)) return earlier;
  if (earlier !== undefined) {
    const id = earlier.borrowId ?? 0;
    return success(
      earlier.settleOutcome === "dummy"
        ? { id, outcome: "dummy", dummyUntil: earlier.dummyUntil ?? 0 }
        : { id, outcome: "settled" },
      false,
    );
  }
  const record = state.borrows.get(request.id);
  if (record === undefined) {
    return journalRefusal(
      state,
      opIdHex,
      "settle",
      refuse(Status.UNKNOWN_BORROW, `borrow ${request.id} is unknown`),
      request.id,
    );
  }
  if (record.state !== "active") {
    return journalRefusal(
      state,
      opIdHex,
      "settle",
      refuse(Status.NOT_ACTIVE, `borrow ${request.id} is a dummy`),
      request.id,
    );
  }
  if (sameBytes(record.binding, request.binding) && sameBytes(record.tag, request.tag)) {
    state.borrows.delete(record.id);
    remember(state, opIdHex, { kind: "settle", status: Status.OK, borrowId: record.id, settleOutcome: "settled" });
    return success({ id: record.id, outcome: "settled" }, true);
  }
  const dummyUntil = now + periodMs(state, record);
  makeDummy(state, record, dummyUntil);
  remember(state, opIdHex, {
    kind: "settle",
    status: Status.OK,
    borrowId: record.id,
    settleOutcome: "dummy",
    dummyUntil,
  });
  return success({ id: record.id, outcome: "dummy", dummyUntil }, true);
}

/** K7. */
export function rebind(state: KeyState, request: RebindRequest): RuleResult<BorrowRecord> {
  const opIdHex = toHex(request.opId);
  const earlier = previous(state, opIdHex, "rebind");
  if (isRefusal(earlier)) return earlier;
  if (earlier !== undefined) {
    const record = state.borrows.get(earlier.borrowId ?? 0);
    if (record === undefined) return refuse(Status.BAD_REQUEST, "opId already used");
    return success(toWireRecord(record), false);
  }
  const record = state.borrows.get(request.id);
  const refusal = (status: Status, reason: string) =>
    journalRefusal(state, opIdHex, "rebind", refuse(status, reason), request.id);
  if (record === undefined) return refusal(Status.UNKNOWN_BORROW, `borrow ${request.id} is unknown`);
  if (record.state !== "active") return refusal(Status.NOT_ACTIVE, `borrow ${request.id} is a dummy`);
  if (!sameBytes(record.binding, request.oldBinding) || !sameBytes(record.tag, request.tag)) {
    return refusal(Status.REBIND_REFUSED, "old binding or tag does not match");
  }
  record.binding = Uint8Array.from(request.newBinding);
  remember(state, opIdHex, { kind: "rebind", status: Status.OK, borrowId: record.id });
  return success(toWireRecord(record), true);
}

/** K6: the whole set is replaced, the version goes up, every active borrow becomes a dummy. Returns how many. */
function replaceLicenseSet(state: KeyState, licenses: readonly License[], now: number): number {
  state.licenses = new Map(licenses.map((license): [number, License] => [license.product, { ...license }]));
  state.licenseSetVersion++;
  let dummiesCreated = 0;
  for (const record of state.borrows.values()) {
    if (record.state !== "active") continue;
    makeDummy(state, record, now + periodMs(state, record));
    dummiesCreated++;
  }
  return dummiesCreated;
}

/**
 * K6 with the vendor's signature: refused, with nothing changed, when the key is not provisioned,
 * the update names another serial, its signature does not verify with the vendor key, or its
 * counter is not above the key's (a replay or rollback). K2 first: a retry answers as the first time.
 */
export function signedLicenseUpdate(
  state: KeyState,
  request: SignedLicenseUpdateRequest,
  now: number,
): RuleResult<SignedLicenseUpdateResult> {
  const opIdHex = toHex(request.opId);
  const earlier = previous(state, opIdHex, "license-update");
  if (isRefusal(earlier)) return earlier;
  if (earlier !== undefined) {
    return success(
      {
        licenseSetVersion: earlier.licenseSetVersion ?? 0,
        dummiesCreated: earlier.dummiesCreated ?? 0,
        updateCounter: earlier.updateCounter ?? 0,
      },
      false,
    );
  }
  const verdict = judgeLicenseUpdate(request.update, state);
  if (verdict !== undefined) {
    return journalRefusal(state, opIdHex, "license-update", refuse(verdict.status, verdict.reason));
  }
  const dummiesCreated = replaceLicenseSet(state, request.update.licenses, now);
  state.updateCounter = request.update.counter;
  const result = { licenseSetVersion: state.licenseSetVersion, dummiesCreated, updateCounter: state.updateCounter };
  remember(state, opIdHex, { kind: "license-update", status: Status.OK, ...result });
  return success(result, true);
}

export function vendorInfo(state: KeyState): VendorInfo {
  return state.vendorPublicKey === undefined
    ? { provisioned: false, updateCounter: state.updateCounter }
    : { provisioned: true, vendorPublicKey: state.vendorPublicKey, updateCounter: state.updateCounter };
}

/**
 * PROVISION: binds the key to a vendor key, once. Repeating it with the vendor key the key
 * already holds answers OK and changes nothing (a station that lost the answer may ask again);
 * another vendor key is ALREADY_PROVISIONED until the key is wiped on the board.
 */
export function provision(state: KeyState, request: ProvisionRequest): RuleResult<VendorInfo> {
  if (request.serial !== state.serial) {
    return refuse(Status.WRONG_SERIAL, `the request provisions key ${request.serial}, not ${state.serial}`);
  }
  if (state.vendorPublicKey !== undefined) {
    if (sameBytes(state.vendorPublicKey, request.vendorPublicKey)) return success(vendorInfo(state), false);
    return refuse(Status.ALREADY_PROVISIONED, "the key is already provisioned with another vendor key");
  }
  if (!isUsableVendorKey(request.vendorPublicKey)) {
    return refuse(Status.BAD_REQUEST, "the vendor public key is not an Ed25519 public key");
  }
  state.vendorPublicKey = Uint8Array.from(request.vendorPublicKey);
  state.updateCounter = 0;
  return success(vendorInfo(state), true);
}

function isUsableVendorKey(raw: Uint8Array): boolean {
  if (raw.every((byte) => byte === 0)) return false;
  try {
    ed25519PublicKey(raw);
    return true;
  } catch {
    // An encoding OpenSSL refuses is answered as a bad request, not a fault of the key.
    return false;
  }
}

/**
 * Board-side only (never a protocol command: over USB it would let whoever holds a key replace
 * its vendor): forgets the vendor key, the update counter, the licenses, the borrows and the
 * journal. The serial, the identity key pair, the clock and the id counter stay (ids are never
 * reused); the license-set version goes up, as for any change of the set.
 */
export function wipe(state: KeyState): void {
  state.vendorPublicKey = undefined;
  state.updateCounter = 0;
  state.licenses = new Map();
  state.licenseSetVersion++;
  state.borrows.clear();
  state.journal.clear();
  state.nextTransitionAt = Number.NEGATIVE_INFINITY;
}

/** K8: paged by id, dummies included, tags never. */
export function listBorrows(state: KeyState, request: ListBorrowsRequest): BorrowPage {
  const records: BorrowRecord[] = [];
  let more = false;
  for (const record of state.borrows.values()) {
    if (record.id <= request.afterId) continue;
    if (records.length === request.maxCount) {
      more = true;
      break;
    }
    records.push(toWireRecord(record));
  }
  return { records, more };
}

export function listLicenses(state: KeyState): LicenseUsage[] {
  const usage = new Map<number, { borrowed: number; dummies: number }>();
  for (const product of state.licenses.keys()) usage.set(product, { borrowed: 0, dummies: 0 });
  for (const record of state.borrows.values()) {
    const counts = usage.get(record.product);
    if (counts === undefined) continue;
    if (record.state === "active") counts.borrowed++;
    else counts.dummies++;
  }
  return [...state.licenses.values()].map((license) => ({
    ...license,
    borrowed: usage.get(license.product)?.borrowed ?? 0,
    dummies: usage.get(license.product)?.dummies ?? 0,
  }));
}

export function keyInfo(state: KeyState, now: number): KeyInfo {
  return {
    serial: state.serial,
    firmwareVersion: state.firmwareVersion,
    protocolVersion: PROTOCOL_VERSION,
    capabilities: KEY_CAPABILITIES,
    licenseSetVersion: state.licenseSetVersion,
    publicKey: state.publicKey,
    keyTimeMs: now,
    settleWindowMs: state.settleWindowMs,
  };
}

export function opStatus(state: KeyState, opId: Uint8Array): OpStatus {
  const entry = state.journal.get(toHex(opId));
  if (entry === undefined) return { known: false };
  return {
    known: true,
    kind: entry.kind,
    status: entry.status,
    ...(entry.borrowId === undefined ? {} : { borrowId: entry.borrowId }),
    ...(entry.settleOutcome === undefined ? {} : { settleOutcome: entry.settleOutcome }),
  };
}

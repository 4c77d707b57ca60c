/** Decoded message bodies. Ids and times are JS numbers (u64 on the wire, < 2^53); times are epoch ms of the key's clock. */

export interface KeyInfo {
  readonly serial: string;
  readonly firmwareVersion: string;
  readonly protocolVersion: number;
  readonly capabilities: number;
  readonly licenseSetVersion: number;
  readonly publicKey: Uint8Array;
  readonly keyTimeMs: number;
  readonly settleWindowMs: number;
}

export interface License {
  readonly product: number;
  readonly seats: number;
  readonly borrowable: number;
  readonly borrowDays: number;
}

export interface LicenseUsage extends License {
  /** Active borrows of this product. */
  readonly borrowed: number;
  readonly dummies: number;
}

/** A borrow record as the key holds it: a client holds it, or it became a dummy (K4). */
export type KeyRecordState = "active" | "dummy";

export interface BorrowRecord {
  readonly id: number;
  readonly product: number;
  readonly client: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly binding: Uint8Array;
  readonly opId: Uint8Array;
  readonly state: KeyRecordState;
  /** Set when state is "dummy": the time the dummy clears (rule K5). */
  readonly dummyUntil?: number;
}

export interface BorrowRequest {
  readonly opId: Uint8Array;
  readonly product: number;
  readonly days: number;
  readonly binding: Uint8Array;
  readonly tag: Uint8Array;
  readonly client: string;
}

export interface SettleRequest {
  readonly opId: Uint8Array;
  readonly id: number;
  readonly binding: Uint8Array;
  readonly tag: Uint8Array;
}

export type SettleOutcome = "settled" | "dummy";

export interface SettleResult {
  readonly id: number;
  readonly outcome: SettleOutcome;
  readonly dummyUntil?: number;
}

export interface RebindRequest {
  readonly opId: Uint8Array;
  readonly id: number;
  readonly oldBinding: Uint8Array;
  readonly tag: Uint8Array;
  readonly newBinding: Uint8Array;
}

export interface ListBorrowsRequest {
  /** Return records with id greater than this (0 for the first page). */
  readonly afterId: number;
  readonly maxCount: number;
}

export interface BorrowPage {
  readonly records: readonly BorrowRecord[];
  /** True when more records follow; ask again with afterId = the last record's id. */
  readonly more: boolean;
}

export interface LicenseUpdateRequest {
  readonly opId: Uint8Array;
  readonly licenses: readonly License[];
}

export interface LicenseUpdateResult {
  readonly licenseSetVersion: number;
  readonly dummiesCreated: number;
}

export interface KeyTime {
  readonly keyTimeMs: number;
  readonly settleWindowMs: number;
}

export type OperationKind = "borrow" | "settle" | "rebind" | "license-update";

export interface OpStatus {
  readonly known: boolean;
  readonly kind?: OperationKind;
  /** Status the operation answered with. */
  readonly status?: number;
  readonly borrowId?: number;
  /** For a settle: what it did. */
  readonly settleOutcome?: SettleOutcome;
}

/** INIT (channel allocation) response. */
export interface InitResponse {
  readonly nonce: Uint8Array;
  readonly cid: number;
  readonly protocolVersion: number;
  readonly firmwareVersion: string;
  readonly capabilities: number;
}

/**
 * The part of a vendor-signed license update that the vendor signs: which key (serial), the
 * update's place in that key's sequence (counter, strictly increasing) and the whole new set.
 */
export interface UnsignedLicenseUpdate {
  readonly serial: string;
  readonly counter: number;
  readonly licenses: readonly License[];
}

/** An update with the vendor's Ed25519 signature (PROTOCOL.md section 8.11). */
export interface SignedLicenseUpdate extends UnsignedLicenseUpdate {
  readonly signature: Uint8Array;
}

export interface SignedLicenseUpdateRequest {
  readonly opId: Uint8Array;
  readonly update: SignedLicenseUpdate;
}

export interface SignedLicenseUpdateResult {
  readonly licenseSetVersion: number;
  readonly dummiesCreated: number;
  /** The key's update counter now: the counter of the update applied. */
  readonly updateCounter: number;
}

export interface ProvisionRequest {
  /** The serial of the key meant: a key refuses a PROVISION naming another one. */
  readonly serial: string;
  /** Raw 32-byte Ed25519 public key of the vendor whose signature the key will require. */
  readonly vendorPublicKey: Uint8Array;
}

/** Whose signature a key requires for a license update, and how far its update sequence is. */
export interface VendorInfo {
  readonly provisioned: boolean;
  /** Set when provisioned. */
  readonly vendorPublicKey?: Uint8Array;
  /** Counter of the last update applied; 0 before the first one. The next update must be above it. */
  readonly updateCounter: number;
}

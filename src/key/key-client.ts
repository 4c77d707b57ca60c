import { isCodedError } from "../errors.js";
import { layerLogger } from "../log.js";
import {
  AppCommand,
  Capability,
  MAX_BORROWS_PER_PAGE,
  NONCE_SIZE,
  STATUS_NAMES,
  Status,
} from "../protocol/constants.js";
import { ProtocolError, ProtocolErrorCode } from "../protocol/errors.js";
import {
  Borrow,
  COMMAND_NAMES,
  type CommandCodec,
  decodeErrorBody,
  decodeResponseEnvelope,
  encodeRequestEnvelope,
  GetInfo,
  GetTime,
  LicenseUpdate,
  ListBorrows,
  ListLicenses,
  OpStatusQuery,
  Ping,
  Provision,
  Rebind,
  type ResponseEnvelope,
  Settle,
  SignedLicenseUpdateCommand,
  VendorInfoQuery,
} from "../protocol/index.js";
import { verifyResponse } from "../protocol/signature.js";
import type {
  BorrowPage,
  BorrowRecord,
  BorrowRequest,
  KeyInfo,
  KeyTime,
  LicenseUpdateRequest,
  LicenseUpdateResult,
  LicenseUsage,
  ListBorrowsRequest,
  OpStatus,
  ProvisionRequest,
  RebindRequest,
  SettleRequest,
  SettleResult,
  SignedLicenseUpdate,
  SignedLicenseUpdateRequest,
  SignedLicenseUpdateResult,
  UnsignedLicenseUpdate,
  VendorInfo,
} from "../protocol/types.js";
import { defaultRandomBytes, type RandomBytes, type Transport } from "../transport/transport.js";
import {
  CounterfeitKeyError,
  KeyRefusedError,
  SignedUpdatesUnsupportedError,
  UnsignedLicenseUpdateError,
} from "./errors.js";
import type { PinStore } from "./pin-store.js";
import { verifyResponseAsync } from "./verify-async.js";

const log = layerLogger("key");

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface KeyClientOptions {
  /** Source of request nonces; a replay passes the recorded ones (see ReplayPort). */
  readonly randomBytes?: RandomBytes;
  /** Told of every exchange with the key as it ends (for latency metrics); must not throw. */
  readonly onExchange?: (sample: ExchangeSample) => void;
  /**
   * Signs a bare license set given to `licenseUpdate` for a key that takes only vendor-signed
   * updates. Virtual mode passes its demo vendor here; without a signer such a call fails with
   * UnsignedLicenseUpdateError and the update has to come as a signed file.
   */
  readonly licenseSigner?: LicenseUpdateSigner;
}

/** Turns a bare license set into an update signed by the key's vendor (see KeyClientOptions.licenseSigner). */
export interface LicenseUpdateSigner {
  /** `vendor` is what the key reports: its vendor key and its current counter. */
  sign(update: UnsignedLicenseUpdate, vendor: VendorInfo): SignedLicenseUpdate | Promise<SignedLicenseUpdate>;
}

/** One request/answer with the key, as it was timed. */
export interface ExchangeSample {
  /** The command's protocol name (BORROW, SETTLE, LIST_BORROWS, ...). */
  readonly command: string;
  /** From the request leaving the transport's queue to the whole answer read (BUSY retries included). */
  readonly seconds: number;
  /** Time spent in the transport's queue behind other calls before that. */
  readonly waitedSeconds: number;
  /** `answered`: the key answered (OK or a refusal status); `failed`: no usable answer (timeout, unplug, framing). */
  readonly outcome: "answered" | "failed";
  /** The refusal status name or the transport error code, when not OK. */
  readonly code?: string;
}

/**
 * A decoded OK answer whose signature (K9) is still being checked on the threadpool. `verified`
 * rejects with PROTOCOL_BAD_SIGNATURE for a forged or damaged answer; nothing built from `value`
 * may be reported to anyone before it resolved.
 */
export interface PendingProof<T> {
  readonly value: T;
  readonly verified: Promise<void>;
}

/** A verified answer whose body is not decoded: for tests that send deliberately malformed requests. */
export interface RawResponse {
  readonly status: number;
  readonly body: Uint8Array;
}

/**
 * Typed commands to one key. Every answer is checked for the command echo and verified with
 * the pinned public key (rule K9) before it is decoded; a non-OK status becomes a
 * KeyRefusedError carrying that status.
 */
export class KeyClient {
  private readonly randomBytes: RandomBytes;
  private readonly onExchange: ((sample: ExchangeSample) => void) | undefined;
  private readonly licenseSigner: LicenseUpdateSigner | undefined;
  /** Calls between request and verified answer: more than one means others wait for the key. */
  private inFlight = 0;

  constructor(
    readonly transport: Transport,
    /** The pinned public key: every answer is verified with it, never with the one the key claims. */
    private readonly publicKey: Uint8Array,
    readonly info: KeyInfo,
    options: KeyClientOptions = {},
  ) {
    this.randomBytes = options.randomBytes ?? defaultRandomBytes;
    this.onExchange = options.onExchange;
    this.licenseSigner = options.licenseSigner;
  }

  get serial(): string {
    return this.info.serial;
  }

  /** True when the key announces VENDOR_SIGNED: provisioning, vendor info and signed license updates. */
  get takesSignedUpdates(): boolean {
    return (this.info.capabilities & Capability.VENDOR_SIGNED) !== 0;
  }

  getInfo(options?: CallOptions): Promise<KeyInfo> {
    return this.call(GetInfo, {}, options);
  }

  listLicenses(options?: CallOptions): Promise<LicenseUsage[]> {
    return this.call(ListLicenses, {}, options);
  }

  borrow(request: BorrowRequest, options?: CallOptions): Promise<BorrowRecord> {
    return this.call(Borrow, request, options);
  }

  /**
   * SETTLE whose answer is handed over while its signature is still checked (see PendingProof):
   * the caller counts the freed seat at once, in the key's answer order, and acts on the outcome
   * only once it is proven.
   */
  settleWithPendingProof(request: SettleRequest, options?: CallOptions): Promise<PendingProof<SettleResult>> {
    return this.callWithPendingProof(Settle, request, options);
  }

  settle(request: SettleRequest, options?: CallOptions): Promise<SettleResult> {
    return this.call(Settle, request, options);
  }

  rebind(request: RebindRequest, options?: CallOptions): Promise<BorrowRecord> {
    return this.call(Rebind, request, options);
  }

  listBorrows(request: ListBorrowsRequest, options?: CallOptions): Promise<BorrowPage> {
    return this.call(ListBorrows, request, options);
  }

  /** Every borrow record, dummies included (K8), paging until the key says there is no more. */
  async listAllBorrows(options: CallOptions = {}): Promise<BorrowRecord[]> {
    const records: BorrowRecord[] = [];
    let afterId = 0;
    for (;;) {
      const page = await this.listBorrows({ afterId, maxCount: MAX_BORROWS_PER_PAGE }, options);
      for (const record of page.records) {
        // Ids only grow; anything else would make paging loop forever.
        if (record.id <= afterId) {
          throw new ProtocolError(
            ProtocolErrorCode.BAD_FIELD,
            `LIST_BORROWS returned id ${record.id} after ${afterId}`,
          );
        }
        afterId = record.id;
        records.push(record);
      }
      if (!page.more) return records;
      if (page.records.length === 0) {
        throw new ProtocolError(ProtocolErrorCode.BAD_FIELD, "LIST_BORROWS says more records follow but sent none");
      }
    }
  }

  /**
   * Throws UnsignedLicenseUpdateError when `licenseUpdate` could not deliver a bare set to this key
   * (it takes only vendor-signed updates and no signer is configured), so a caller can refuse
   * before it lists, journals or sends anything.
   */
  checkBareLicenseUpdate(): void {
    if (!this.takesBareLicenseSets() && this.licenseSigner === undefined)
      throw new UnsignedLicenseUpdateError(this.serial);
  }

  /** True when a bare set given to `licenseUpdate` is sent as it is (the key still offers the unsigned command). */
  takesBareLicenseSets(): boolean {
    return (this.info.capabilities & Capability.LICENSE_UPDATE) !== 0 || !this.takesSignedUpdates;
  }

  /**
   * Replaces the key's license set with a bare set (K6). A key that still offers the unsigned
   * LICENSE_UPDATE gets it as is. A key that takes only vendor-signed updates gets it signed by
   * the configured LicenseUpdateSigner, with the counter after the key's; without a signer this
   * fails with UnsignedLicenseUpdateError before anything is sent.
   */
  async licenseUpdate(request: LicenseUpdateRequest, options?: CallOptions): Promise<LicenseUpdateResult> {
    if (this.takesBareLicenseSets()) return this.call(LicenseUpdate, request, options);
    const signer = this.licenseSigner;
    if (signer === undefined) throw new UnsignedLicenseUpdateError(this.serial);
    const vendor = await this.vendorInfo(options);
    const update = await signer.sign(
      { serial: this.serial, counter: vendor.updateCounter + 1, licenses: request.licenses },
      vendor,
    );
    const { licenseSetVersion, dummiesCreated } = await this.signedLicenseUpdate(
      { opId: request.opId, update },
      options,
    );
    return { licenseSetVersion, dummiesCreated };
  }

  /**
   * SIGNED_LICENSE_UPDATE (PROTOCOL.md 8.11): replaces the license set with a vendor-signed one
   * (K6: active borrows become dummies). Refusals (KeyRefusedError), each with nothing changed:
   * NOT_PROVISIONED, WRONG_SERIAL, BAD_VENDOR_SIGNATURE, STALE_COUNTER (replay or rollback),
   * BAD_REQUEST (malformed). The same opId on a retry answers as the first time (K2).
   */
  async signedLicenseUpdate(
    request: SignedLicenseUpdateRequest,
    options?: CallOptions,
  ): Promise<SignedLicenseUpdateResult> {
    this.requireSignedUpdates();
    return this.call(SignedLicenseUpdateCommand, request, options);
  }

  /** VENDOR_INFO: whether the key is provisioned, with which vendor key, and its update counter. */
  async vendorInfo(options?: CallOptions): Promise<VendorInfo> {
    this.requireSignedUpdates();
    return this.call(VendorInfoQuery, {}, options);
  }

  /**
   * PROVISION: binds an unprovisioned key to a vendor public key. Repeating it with the same
   * vendor key answers OK; another one is refused with ALREADY_PROVISIONED; a serial other than
   * the key's with WRONG_SERIAL.
   */
  async provision(request: ProvisionRequest, options?: CallOptions): Promise<VendorInfo> {
    this.requireSignedUpdates();
    return this.call(Provision, request, options);
  }

  private requireSignedUpdates(): void {
    if (!this.takesSignedUpdates) throw new SignedUpdatesUnsupportedError(this.serial, this.info.capabilities);
  }

  getTime(options?: CallOptions): Promise<KeyTime> {
    return this.call(GetTime, {}, options);
  }

  ping(data: Uint8Array, options?: CallOptions): Promise<Uint8Array> {
    return this.call(Ping, data, options);
  }

  opStatus(opId: Uint8Array, options?: CallOptions): Promise<OpStatus> {
    return this.call(OpStatusQuery, { opId }, options);
  }

  /** Sends any command byte with any body; the answer is verified (K9) but not decoded and its status not mapped. */
  async callRaw(command: number, body: Uint8Array, options?: CallOptions): Promise<RawResponse> {
    const { envelope } = await this.send(command, body, options);
    return { status: envelope.status, body: envelope.body };
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  private async call<Req, Res>(codec: CommandCodec<Req, Res>, request: Req, options?: CallOptions): Promise<Res> {
    const { envelope } = await this.send(codec.command, codec.encodeRequest(request), options);
    if (envelope.status !== Status.OK) {
      throw new KeyRefusedError(envelope.status, envelope.command, decodeErrorBody(envelope.body));
    }
    return codec.decodeResponse(envelope.body);
  }

  private async callWithPendingProof<Req, Res>(
    codec: CommandCodec<Req, Res>,
    request: Req,
    options?: CallOptions,
  ): Promise<PendingProof<Res>> {
    this.inFlight++;
    let sent: { envelope: ResponseEnvelope; nonce: Uint8Array };
    try {
      sent = await exchange(
        this.transport,
        this.randomBytes,
        codec.command,
        codec.encodeRequest(request),
        options,
        this.onExchange,
      );
    } finally {
      this.inFlight--;
    }
    const { envelope, nonce } = sent;
    const verified = verifyResponseAsync(
      this.publicKey,
      nonce,
      envelope.command,
      envelope.status,
      envelope.body,
      envelope.signature,
    );
    if (envelope.status !== Status.OK) {
      await verified;
      throw new KeyRefusedError(envelope.status, envelope.command, decodeErrorBody(envelope.body));
    }
    let value: Res;
    try {
      value = codec.decodeResponse(envelope.body);
    } catch (error) {
      // A body that does not decode may be a forgery: the signature decides which error is true.
      await verified;
      throw error;
    }
    // Marked handled here: a caller that fails before awaiting it must not crash the process.
    verified.catch(() => undefined);
    return { value, verified };
  }

  private async send(
    command: number,
    body: Uint8Array,
    options?: CallOptions,
  ): Promise<{ envelope: ResponseEnvelope; nonce: Uint8Array }> {
    this.inFlight++;
    try {
      const sent = await exchange(this.transport, this.randomBytes, command, body, options, this.onExchange);
      const { envelope } = sent;
      // With other calls waiting for the key, verifying on the threadpool lets the next exchange
      // and the ledger work run meanwhile; alone, the thread hop would only add latency. Either
      // way nothing of the answer is used before it verifies.
      if (this.inFlight > 1) {
        await verifyResponseAsync(
          this.publicKey,
          sent.nonce,
          envelope.command,
          envelope.status,
          envelope.body,
          envelope.signature,
        );
      } else {
        verifyResponse(
          this.publicKey,
          sent.nonce,
          envelope.command,
          envelope.status,
          envelope.body,
          envelope.signature,
        );
      }
      return sent;
    } finally {
      this.inFlight--;
    }
  }
}

async function exchange(
  transport: Transport,
  randomBytes: RandomBytes,
  command: number,
  body: Uint8Array,
  options?: CallOptions,
  onExchange?: (sample: ExchangeSample) => void,
): Promise<{ envelope: ResponseEnvelope; nonce: Uint8Array }> {
  const nonce = randomBytes(NONCE_SIZE);
  const request = encodeRequestEnvelope({ nonce, command, body });
  const envelope =
    onExchange === undefined
      ? decodeResponseEnvelope(await transport.exchange(request, options))
      : await timedExchange(transport, request, command, options, onExchange);
  if (envelope.command !== command) {
    throw new ProtocolError(
      ProtocolErrorCode.MISMATCHED_RESPONSE,
      `answer for command ${envelope.command} to a ${COMMAND_NAMES[command as AppCommand] ?? command} request`,
      { command, answered: envelope.command },
    );
  }
  return { envelope, nonce };
}

async function timedExchange(
  transport: Transport,
  request: Uint8Array,
  command: number,
  options: CallOptions | undefined,
  onExchange: (sample: ExchangeSample) => void,
): Promise<ResponseEnvelope> {
  const queuedAt = performance.now();
  let startedAt = queuedAt;
  const sample = (outcome: ExchangeSample["outcome"], code?: string): ExchangeSample => ({
    command: COMMAND_NAMES[command as AppCommand] ?? String(command),
    seconds: (performance.now() - startedAt) / 1000,
    waitedSeconds: (startedAt - queuedAt) / 1000,
    outcome,
    ...(code === undefined ? {} : { code }),
  });
  let envelope: ResponseEnvelope;
  try {
    const onStart = () => {
      startedAt = performance.now();
    };
    envelope = decodeResponseEnvelope(await transport.exchange(request, { ...options, onStart }));
  } catch (error) {
    onExchange(sample("failed", isCodedError(error) ? error.code : "INTERNAL"));
    throw error;
  }
  const status = envelope.status as Status;
  onExchange(sample("answered", status === Status.OK ? undefined : (STATUS_NAMES[status] ?? String(status))));
  return envelope;
}

/**
 * GET_INFO, then pinning (rule K9): a serial seen for the first time is pinned to the public
 * key it presents; a known serial presenting another key is refused with CounterfeitKeyError
 * and receives no further command. The returned client verifies with the pinned key.
 */
export async function connectKey(
  transport: Transport,
  pins: PinStore,
  options: KeyClientOptions & CallOptions = {},
): Promise<KeyClient> {
  const randomBytes = options.randomBytes ?? defaultRandomBytes;
  const { envelope, nonce } = await exchange(
    transport,
    randomBytes,
    AppCommand.GET_INFO,
    new Uint8Array(0),
    options,
    options.onExchange,
  );
  if (envelope.status !== Status.OK) {
    throw new KeyRefusedError(envelope.status, envelope.command, decodeErrorBody(envelope.body));
  }
  const info = GetInfo.decodeResponse(envelope.body);
  const pinned = await pins.get(info.serial);
  if (pinned !== undefined && !sameBytes(pinned, info.publicKey)) {
    log.error("counterfeit key refused", { serial: info.serial, path: transport.info.path });
    throw new CounterfeitKeyError(info.serial);
  }
  const publicKey = pinned ?? info.publicKey;
  await verifyResponseAsync(publicKey, nonce, envelope.command, envelope.status, envelope.body, envelope.signature);
  if (pinned === undefined) {
    await pins.pin(info.serial, info.publicKey);
    log.info("pinned the public key of a new key", { serial: info.serial });
  }
  return new KeyClient(transport, publicKey, info, {
    randomBytes,
    ...(options.onExchange === undefined ? {} : { onExchange: options.onExchange }),
    ...(options.licenseSigner === undefined ? {} : { licenseSigner: options.licenseSigner }),
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

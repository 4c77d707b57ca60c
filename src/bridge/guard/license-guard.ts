import { randomBytes } from "node:crypto";
import type { BorrowRow, Ledger } from "../../ledger/index.js";
import { layerLogger } from "../../log.js";
import { formatTime } from "../../reconcile/index.js";
import type { LicenseInput, LicenseUpdateView } from "../api.js";
import type { BorrowIndex } from "../borrow-index.js";
import { BorrowsOutstandingError, KeyNotFoundError, NoKeyError } from "../errors.js";
import type { EventBus } from "../event-bus.js";
import type { InFlight } from "../in-flight.js";
import type { DummyRecorder } from "../key-dummies.js";
import type { KeyManager } from "../key-manager.js";
import type { KeyOrder } from "../key-order.js";
import { borrowViewOfRow, type ProductNames } from "../views.js";
import { describeBorrows, lastExpiry } from "./describe.js";
import { validateLicenses } from "./license-input.js";

const log = layerLogger("bridge");

type Described = Pick<BorrowRow, "id" | "client" | "product" | "expiresAt">;

/** K6 guard refusal: names the borrows a license update would turn into dummies and when the last one expires. */
export class LicenseUpdateBlockedError extends BorrowsOutstandingError {
  /**
   * `rows`: the key's outstanding borrows in the ledger; `unrecorded`: active borrows the key lists
   * that the ledger does not hold (another host's, or one whose answer was lost and not yet rolled back).
   */
  constructor(serial: string, rows: readonly Described[], unrecorded: readonly Described[] = []) {
    const all = [...rows, ...unrecorded];
    super(
      serial,
      all.map((row) => row.id),
    );
    const strangers =
      unrecorded.length === 0
        ? ""
        : ` (${unrecorded.length} of them the key lists but the ledger does not hold: ${unrecorded.map((r) => r.id).join(", ")})`;
    this.message =
      `key ${serial} has ${all.length} outstanding borrow(s)${strangers}: ${describeBorrows(all)}. A license update now would ` +
      `turn them into borrow dummies (rule K6). Return them first, or wait until ${formatTime(lastExpiry(all))} ` +
      "when the last one expires; --force updates anyway and records the dummies in the audit trail";
  }
}

/** Told when an update is refused or done, so the matching risk opens and closes. */
export interface LicenseUpdateObserver {
  noteLicenseUpdatePending(serial: string): void;
}

/** What the license-update guard reads and writes, and whom it tells of a refusal. */
export interface LicenseGuardInputs {
  readonly ledger: Pick<Ledger, "audit" | "commit">;
  readonly index: Pick<BorrowIndex, "rows">;
  readonly keys: Pick<KeyManager, "call" | "session">;
  readonly events: Pick<EventBus, "emit">;
  readonly operations: Pick<InFlight, "run">;
  readonly keyOrder: Pick<KeyOrder, "withExclusive">;
  readonly dummies: Pick<DummyRecorder, "record">;
  readonly productName: ProductNames;
  /** Told when an update is refused, so the license-update-pending risk opens. */
  readonly observer?: LicenseUpdateObserver;
}

/**
 * LICENSE_UPDATE through keybridge only: the key itself never refuses (K6), so this is where an
 * update is stopped while borrows are out. With `force`, the update goes ahead, and the borrows
 * it turned into dummies are marked in the ledger and written to the audit trail.
 *
 * The update holds the key alone (KeyOrder): it starts once every borrow, settle and rebind sent
 * to the key before it has been answered and written to the ledger, and none starts until it is
 * done. What it decides on is the key's own listing taken then, not only the ledger's rows, and
 * what it reports as dummies is what the key lists afterwards: a borrow the key holds is never
 * missed because its row was still on its way to the disk.
 */
export class LicenseGuard {
  constructor(private readonly inputs: LicenseGuardInputs) {}

  async update(serial: string, input: unknown, options: { force?: boolean } = {}): Promise<LicenseUpdateView> {
    const licenses = validateLicenses(input);
    const force = options.force === true;
    if (this.inputs.keys.session(serial) === undefined) throw new KeyNotFoundError(serial);
    return this.inputs.operations.run(() =>
      this.inputs.keyOrder.withExclusive(serial, () => this.updateNow(serial, licenses, force)),
    );
  }

  private async updateNow(serial: string, licenses: LicenseInput[], force: boolean): Promise<LicenseUpdateView> {
    const { ledger, index, keys, events } = this.inputs;
    const session = keys.session(serial);
    if (session === undefined) throw new KeyNotFoundError(serial);
    if (!session.present || !session.serving) {
      throw new NoKeyError(`key ${serial} is not attached; plug it in and try again`, { details: { serial } });
    }
    session.requireClient().checkBareLicenseUpdate();
    const outstanding = index
      .rows()
      .filter((row) => row.serial === serial && (row.state === "active" || row.state === "returning"));
    const before = await keys.call(session, (client) => client.listAllBorrows());
    const activeBefore = new Set(before.filter((record) => record.state === "active").map((record) => record.id));
    const recorded = new Set(outstanding.map((row) => row.id));
    const unrecorded = before.filter((record) => record.state === "active" && !recorded.has(record.id));
    if ((outstanding.length > 0 || unrecorded.length > 0) && !force) {
      ledger.audit({
        kind: "license-update-refused",
        serial,
        message: `license update of key ${serial} refused: ${outstanding.length + unrecorded.length} borrow(s) outstanding`,
        details: {
          borrowIds: [...outstanding.map((row) => row.id), ...unrecorded.map((record) => record.id)],
          licenses,
        },
      });
      this.inputs.observer?.noteLicenseUpdatePending(serial);
      throw new LicenseUpdateBlockedError(serial, outstanding, unrecorded);
    }

    const opId = randomBytes(16);
    const opIdHex = opId.toString("hex");
    const versionBefore = session.info.licenseSetVersion;
    await ledger.commit((tx) =>
      tx.beginOp({
        opId: opIdHex,
        kind: "license-update",
        serial,
        step: "journaled",
        details: {
          licenseSetVersionBefore: versionBefore,
          forced: force,
          borrowIds: [...activeBefore],
        },
      }),
    );
    const result = await keys.call(session, (client) => client.licenseUpdate({ opId, licenses }));
    // The key says how many borrows it turned (K6); its listing says which, with each dummyUntil.
    const after = await keys.call(session, (client) => client.listAllBorrows());
    const made = after.filter((record) => record.state === "dummy" && activeBefore.has(record.id));
    if (made.length !== result.dummiesCreated) {
      log.error("the key's count of dummies made by a license update differs from its listing", {
        serial,
        answered: result.dummiesCreated,
        listed: made.length,
      });
    }
    const cause = force ? "a forced license update" : "a license update";
    const dummies = await this.inputs.dummies.record(session, made, {
      cause,
      includeBusy: true,
      expected: force,
      inTransaction: (tx, changed) => {
        tx.finishOp(opIdHex, "done");
        tx.touchKey(serial, { lastSeen: Date.now(), licenseSetVersion: result.licenseSetVersion });
        tx.audit({
          kind: force && made.length > 0 ? "license-update-forced" : "license-update",
          serial,
          message:
            made.length > 0
              ? `licenses of key ${serial} replaced (version ${result.licenseSetVersion}) by a ${force ? "forced " : ""}update; ` +
                `${made.length} borrow(s) became borrow dummies: ${describeBorrows(made)}`
              : `licenses of key ${serial} replaced (version ${result.licenseSetVersion})`,
          details: {
            licenses,
            licenseSetVersion: result.licenseSetVersion,
            forced: force,
            dummiesAnswered: result.dummiesCreated,
            dummies: changed.map((row) => ({
              id: row.id,
              client: row.client,
              product: row.product,
              dummyUntil: row.dummyUntil,
            })),
          },
        });
      },
    });
    session.noteLicenseSetVersion(result.licenseSetVersion);
    await session.refreshLicenses().catch((error: unknown) => {
      log.debug("license refresh after update failed", { serial, error: String(error) });
    });
    const keyNow = session.keyNow();
    const views = dummies.map((row) => borrowViewOfRow(row, keyNow, this.inputs.productName));
    events.emit("license.updated", `licenses of key ${serial} replaced (version ${result.licenseSetVersion})`, {
      serial,
      details: { licenseSetVersion: result.licenseSetVersion, forced: force, dummiesCreated: views.length },
    });
    if (views.length > 0) log.warn("a license update created borrow dummies", { serial, count: views.length, force });
    return { serial, licenseSetVersion: result.licenseSetVersion, forced: force, dummiesCreated: views };
  }
}

import { randomBytes } from "node:crypto";
import type { Ledger } from "../../ledger/index.js";
import { layerLogger } from "../../log.js";
import type { LicenseUpdateInput, LicenseUpdatePreviewView, LicenseUpdateView } from "../api.js";
import type { BorrowIndex } from "../borrow-index.js";
import { KeyNotFoundError } from "../errors.js";
import type { EventBus } from "../event-bus.js";
import type { InFlight } from "../in-flight.js";
import type { DummyRecorder } from "../key-dummies.js";
import type { KeyManager } from "../key-manager.js";
import type { KeyOrder } from "../key-order.js";
import { borrowViewOfRow, type ProductNames } from "../views.js";
import { describeBorrows } from "./describe.js";
import { LicenseUpdateBlockedError } from "./license-blocked.js";
import { type LicenseUpdatePlan, planLicenseUpdate } from "./license-input.js";
import { attachedSession, borrowsInTheWay, keyRefusal, previewLicenseUpdate, readVendor } from "./license-preview.js";

export { LicenseUpdateBlockedError };

const log = layerLogger("bridge");

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
 * License updates through keybridge only: a key refuses an update its vendor did not sign (or an
 * old one), never a valid one for borrows being out (K6), so this is where an update is stopped
 * while borrows are out. A signed update the key would refuse is refused here first, with the
 * key's own code, so nothing is journaled or sent for it. With `force`, the update goes ahead, and the borrows
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

  /** `input`: a signed update file's bytes, or a bare license set (see LicenseUpdateInput). */
  async update(
    serial: string,
    input: LicenseUpdateInput,
    options: { force?: boolean } = {},
  ): Promise<LicenseUpdateView> {
    const plan = planLicenseUpdate(input);
    const force = options.force === true;
    if (this.inputs.keys.session(serial) === undefined) throw new KeyNotFoundError(serial);
    return this.inputs.operations.run(() =>
      this.inputs.keyOrder.withExclusive(serial, () => this.updateNow(serial, plan, force)),
    );
  }

  /** What `update` would do, read from the key now; sends nothing that changes it. */
  async preview(
    serial: string,
    input: LicenseUpdateInput,
    options: { force?: boolean } = {},
  ): Promise<LicenseUpdatePreviewView> {
    const plan = planLicenseUpdate(input);
    return this.inputs.operations.run(() => previewLicenseUpdate(this.inputs, serial, plan, options.force === true));
  }

  private async updateNow(serial: string, plan: LicenseUpdatePlan, force: boolean): Promise<LicenseUpdateView> {
    const { ledger, index, keys, events } = this.inputs;
    const { licenses } = plan;
    const session = attachedSession(keys, serial);
    // What the key would refuse is refused here, before anything is listed, journaled or sent.
    const client = session.requireClient();
    const refused = keyRefusal(client, plan.signed ? await readVendor(keys, session, client) : undefined, plan);
    if (refused !== undefined) throw refused;
    const before = await keys.call(session, (key) => key.listAllBorrows());
    const activeBefore = new Set(before.filter((record) => record.state === "active").map((record) => record.id));
    const { outstanding, unrecorded } = borrowsInTheWay(index.rows(), serial, before);
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
    const result: { licenseSetVersion: number; dummiesCreated: number; updateCounter?: number } = await keys.call(
      session,
      (key) =>
        plan.signed ? key.signedLicenseUpdate({ opId, update: plan.update }) : key.licenseUpdate({ opId, licenses }),
    );
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
            ...(plan.signed ? { signed: true, counter: plan.update.counter } : {}),
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
    return {
      serial,
      licenseSetVersion: result.licenseSetVersion,
      forced: force,
      dummiesCreated: views,
      ...(result.updateCounter === undefined ? {} : { updateCounter: result.updateCounter }),
    };
  }
}

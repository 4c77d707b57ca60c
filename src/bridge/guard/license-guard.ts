import { randomBytes } from "node:crypto";
import type { BorrowRow } from "../../ledger/index.js";
import { layerLogger } from "../../log.js";
import { formatTime } from "../../reconcile/index.js";
import type { LicenseInput, LicenseUpdateView } from "../api.js";
import type { BridgeContext } from "../context.js";
import { BorrowsOutstandingError, KeyNotFoundError, NoKeyError } from "../errors.js";
import { borrowViewOfRow } from "../views.js";
import { describeBorrows, lastExpiry } from "./describe.js";
import { validateLicenses } from "./license-input.js";

const log = layerLogger("bridge");

/** K6 guard refusal: names the borrows a license update would turn into dummies and when the last one expires. */
export class LicenseUpdateBlockedError extends BorrowsOutstandingError {
  constructor(serial: string, rows: readonly BorrowRow[]) {
    super(
      serial,
      rows.map((row) => row.id),
    );
    this.message =
      `key ${serial} has ${rows.length} outstanding borrow(s): ${describeBorrows(rows)}. A license update now would ` +
      `turn them into borrow dummies (rule K6). Return them first, or wait until ${formatTime(lastExpiry(rows))} ` +
      "when the last one expires; --force updates anyway and records the dummies in the audit trail";
  }
}

/** Told when an update is refused or done, so the matching risk opens and closes. */
export interface LicenseUpdateObserver {
  noteLicenseUpdatePending(serial: string): void;
}

/**
 * LICENSE_UPDATE through keybridge only: the key itself never refuses (K6), so this is where an
 * update is stopped while borrows are out. With `force`, the update goes ahead, and the borrows
 * it turned into dummies are marked in the ledger and written to the audit trail.
 */
export class LicenseGuard {
  constructor(
    private readonly ctx: BridgeContext,
    private readonly observer?: LicenseUpdateObserver,
  ) {}

  async update(serial: string, input: unknown, options: { force?: boolean } = {}): Promise<LicenseUpdateView> {
    const licenses = validateLicenses(input);
    const force = options.force === true;
    return this.ctx.inFlight.run(() => this.updateNow(serial, licenses, force));
  }

  private async updateNow(serial: string, licenses: LicenseInput[], force: boolean): Promise<LicenseUpdateView> {
    const { ledger, index, mirror, keys, events } = this.ctx;
    const session = keys.session(serial);
    if (session === undefined) throw new KeyNotFoundError(serial);
    if (!session.present || !session.serving) {
      throw new NoKeyError(`key ${serial} is not attached; plug it in and try again`, { details: { serial } });
    }
    const outstanding = index
      .rows()
      .filter((row) => row.serial === serial && (row.state === "active" || row.state === "returning"));
    if (outstanding.length > 0 && !force) {
      ledger.audit({
        kind: "license-update-refused",
        serial,
        message: `license update of key ${serial} refused: ${outstanding.length} borrow(s) outstanding`,
        details: { borrowIds: outstanding.map((row) => row.id), licenses },
      });
      this.observer?.noteLicenseUpdatePending(serial);
      throw new LicenseUpdateBlockedError(serial, outstanding);
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
          borrowIds: outstanding.map((row) => row.id),
        },
      }),
    );
    const result = await keys.call(session, (client) => client.licenseUpdate({ opId, licenses }));
    // The key's own dummyUntil for each borrow it turned (K6); rows it no longer lists stay as they were.
    const onKey = new Map(
      (await keys.call(session, (client) => client.listAllBorrows())).map((record) => [record.id, record]),
    );
    const dummies = await ledger.commit((tx) => {
      const changed: BorrowRow[] = [];
      for (const row of outstanding) {
        const record = onKey.get(row.id);
        if (record?.state !== "dummy") continue;
        changed.push(tx.updateBorrowState(serial, row.id, { state: "dummy", dummyUntil: record.dummyUntil ?? null }));
      }
      tx.finishOp(opIdHex, "done");
      tx.touchKey(serial, { lastSeen: Date.now(), licenseSetVersion: result.licenseSetVersion });
      tx.audit({
        kind: force && outstanding.length > 0 ? "license-update-forced" : "license-update",
        serial,
        message:
          changed.length > 0
            ? `licenses of key ${serial} replaced (version ${result.licenseSetVersion}) by a forced update; ` +
              `${changed.length} borrow(s) became borrow dummies: ${describeBorrows(changed)}`
            : `licenses of key ${serial} replaced (version ${result.licenseSetVersion})`,
        details: {
          licenses,
          licenseSetVersion: result.licenseSetVersion,
          forced: force,
          dummies: changed.map((row) => ({
            id: row.id,
            client: row.client,
            product: row.product,
            dummyUntil: row.dummyUntil,
          })),
        },
      });
      return changed;
    });
    for (const row of dummies) {
      index.put(row);
      mirror.markDirty(serial, row.id);
    }
    session.info = { ...session.info, licenseSetVersion: result.licenseSetVersion };
    await session.refreshLicenses().catch((error: unknown) => {
      log.debug("license refresh after update failed", { serial, error: String(error) });
    });
    const keyNow = session.keyNow();
    const views = dummies.map((row) => borrowViewOfRow(row, keyNow, this.ctx.productName));
    events.emit("license.updated", `licenses of key ${serial} replaced (version ${result.licenseSetVersion})`, {
      serial,
      details: { licenseSetVersion: result.licenseSetVersion, forced: force, dummiesCreated: views.length },
    });
    for (const view of views) {
      events.emit("borrow.dummy", `borrow ${view.id} on key ${serial} became a borrow dummy (forced license update)`, {
        serial,
        borrow: view,
      });
    }
    if (views.length > 0) log.warn("forced license update created borrow dummies", { serial, count: views.length });
    return { serial, licenseSetVersion: result.licenseSetVersion, forced: force, dummiesCreated: views };
  }
}

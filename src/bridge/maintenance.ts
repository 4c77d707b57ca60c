import { randomBytes } from "node:crypto";
import { KeyStatusError } from "../key/index.js";
import type { BorrowRow } from "../ledger/index.js";
import { layerLogger } from "../log.js";
import type { BorrowView, LicenseInput, LicenseUpdateView, MigrationItemView, MigrationView } from "./api.js";
import { borrowKey } from "./borrow-index.js";
import type { BorrowService } from "./borrow-service.js";
import type { BridgeContext } from "./context.js";
import { crashPoint } from "./crash-points.js";
import { BorrowsOutstandingError, InvalidRequestError } from "./errors.js";
import type { KeySession } from "./key-session.js";
import { borrowViewOfRow } from "./views.js";

const log = layerLogger("bridge");

/**
 * Migration (K7 REBIND with the ledger's proof) and the guarded license update (K6). The guard
 * layer extends both; here they are simple and journaled.
 */
export class MaintenanceService {
  constructor(
    private readonly ctx: BridgeContext,
    private readonly borrows: BorrowService,
  ) {}

  /** REBINDs every active borrow whose binding differs from this host's, one journaled step at a time. */
  migrate(): Promise<MigrationView> {
    return this.ctx.inFlight.run(async () => {
      const binding = this.ctx.binding();
      const items: MigrationItemView[] = [];
      const rows = this.ctx.index.rows().filter((row) => row.state === "active");
      for (const row of rows) {
        const base = { serial: row.serial, borrowId: row.id, client: row.client, product: row.product };
        if (row.binding === binding) {
          items.push({ ...base, outcome: "already-current", message: "already bound to this host" });
          continue;
        }
        const session = this.ctx.keys.session(row.serial);
        if (session === undefined || !session.serving) {
          items.push({ ...base, outcome: "skipped", message: `key ${row.serial} is not attached` });
          continue;
        }
        const key = borrowKey(row.serial, row.id);
        if (this.ctx.inFlight.busyBorrows.has(key)) {
          items.push({ ...base, outcome: "skipped", message: "another operation on this borrow is running" });
          continue;
        }
        this.ctx.inFlight.busyBorrows.add(key);
        try {
          await this.rebind(session, row, binding);
          items.push({ ...base, outcome: "rebound", message: "rebound to this host" });
        } catch (error) {
          const refused = error instanceof KeyStatusError;
          log.warn("rebind failed", { serial: row.serial, id: row.id, error: String(error) });
          items.push({ ...base, outcome: refused ? "refused" : "failed", message: String(error) });
        } finally {
          this.ctx.inFlight.busyBorrows.delete(key);
        }
      }
      const rebound = items.filter((item) => item.outcome === "rebound").length;
      const failed = items.filter((item) => item.outcome === "refused" || item.outcome === "failed").length;
      const message = `migration: ${rebound} borrow(s) rebound, ${failed} failed`;
      this.ctx.ledger.audit({ kind: "migrate", message, details: { binding, items } });
      this.ctx.events.emit("migration.done", message, { details: { rebound, failed } });
      return { binding, items, rebound, failed };
    });
  }

  /** K6 guard: refused while borrows are out, unless forced; forced updates are audited with the borrows they cost. */
  async licenseUpdate(serial: string, licenses: LicenseInput[], force: boolean): Promise<LicenseUpdateView> {
    validateLicenses(licenses);
    return this.ctx.inFlight.run(async () => {
      const session = this.borrows.servingSession(serial);
      const outstanding = this.ctx.index.rows().filter((row) => row.serial === serial && row.state !== "dummy");
      if (outstanding.length > 0 && !force) {
        throw new BorrowsOutstandingError(
          serial,
          outstanding.map((row) => row.id),
        );
      }
      const opId = randomBytes(16);
      const opIdHex = opId.toString("hex");
      await this.ctx.ledger.commit((tx) =>
        tx.beginOp({
          opId: opIdHex,
          kind: "license-update",
          serial,
          details: { licenseSetVersionBefore: session.info.licenseSetVersion, forced: force },
        }),
      );
      const result = await this.ctx.keys.call(session, (client) => client.licenseUpdate({ opId, licenses }));
      const records = await this.ctx.keys.call(session, (client) => client.listAllBorrows());
      const dummyUntil = new Map(records.map((r) => [r.id, r.dummyUntil ?? null]));
      const now = session.keyNow();
      const dummies: BorrowView[] = [];
      const updated = await this.ctx.ledger.commit((tx) => {
        const rows: BorrowRow[] = [];
        for (const row of outstanding) {
          rows.push(
            tx.updateBorrowState(serial, row.id, { state: "dummy", dummyUntil: dummyUntil.get(row.id) ?? null }),
          );
        }
        tx.finishOp(opIdHex, "done");
        tx.audit({
          kind: outstanding.length > 0 ? "license-update-forced" : "license-update",
          serial,
          message:
            outstanding.length > 0
              ? `license set of key ${serial} replaced by force; ${outstanding.length} borrow(s) became dummies: ${outstanding.map((r) => r.id).join(", ")}`
              : `license set of key ${serial} replaced`,
          details: { licenseSetVersion: result.licenseSetVersion, borrowIds: outstanding.map((r) => r.id), licenses },
        });
        return rows;
      });
      for (const row of updated) {
        this.ctx.index.put(row);
        this.ctx.mirror.markDirty(row.serial, row.id);
        dummies.push(borrowViewOfRow(row, now, this.ctx.productName));
      }
      session.info = { ...session.info, licenseSetVersion: result.licenseSetVersion };
      await session.refreshLicenses().catch(() => undefined);
      this.ctx.events.emit("license.updated", `license set of key ${serial} replaced`, {
        serial,
        details: { licenseSetVersion: result.licenseSetVersion, forced: force, dummiesCreated: dummies.length },
      });
      return { serial, licenseSetVersion: result.licenseSetVersion, forced: force, dummiesCreated: dummies };
    });
  }

  private async rebind(session: KeySession, row: BorrowRow, newBinding: string): Promise<void> {
    const { ledger, index, mirror, keys } = this.ctx;
    const opId = randomBytes(16);
    const opIdHex = opId.toString("hex");
    await ledger.commit((tx) =>
      tx.beginOp({
        opId: opIdHex,
        kind: "rebind",
        serial: row.serial,
        borrowId: row.id,
        details: { oldBinding: row.binding, newBinding },
      }),
    );
    crashPoint("rebind.after-journal");
    try {
      await keys.call(session, (client) =>
        client.rebind({
          opId,
          id: row.id,
          oldBinding: Buffer.from(row.binding, "hex"),
          tag: Buffer.from(row.tag, "hex"),
          newBinding: Buffer.from(newBinding, "hex"),
        }),
      );
    } catch (error) {
      if (error instanceof KeyStatusError) await ledger.commit((tx) => tx.finishOp(opIdHex, "failed", error.code));
      throw error;
    }
    crashPoint("rebind.after-key");
    const updated = await ledger.commit((tx) => {
      const next = tx.updateBorrowState(row.serial, row.id, { binding: newBinding });
      tx.finishOp(opIdHex, "done");
      tx.audit({
        kind: "rebind",
        serial: row.serial,
        borrowId: row.id,
        message: `borrow ${row.id} rebound to this host`,
        details: { oldBinding: row.binding, newBinding },
      });
      return next;
    });
    crashPoint("rebind.after-ledger");
    index.put(updated);
    mirror.markDirty(row.serial, row.id);
  }
}

function validateLicenses(licenses: LicenseInput[]): void {
  if (!Array.isArray(licenses) || licenses.length === 0) {
    throw new InvalidRequestError("licenses", "licenses must be a non-empty list");
  }
  const seen = new Set<number>();
  licenses.forEach((license, i) => {
    const field = (name: string) => `licenses[${i}].${name}`;
    for (const name of ["product", "seats", "borrowable", "borrowDays"] as const) {
      const value = (license as unknown as Record<string, unknown>)[name];
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
        throw new InvalidRequestError(field(name), `${field(name)} must be a non-negative integer`);
      }
    }
    if (license.borrowable > license.seats) {
      throw new InvalidRequestError(field("borrowable"), `${field("borrowable")} exceeds the seats`);
    }
    if (seen.has(license.product)) throw new InvalidRequestError(field("product"), "a product is listed twice");
    seen.add(license.product);
  });
}

import { DEFAULT_SETTLE_WINDOW_MS } from "../vocabulary/index.js";
import {
  changedFields,
  dummyFinding,
  finding,
  MIGRATE_WHEN_KEY_BACK,
  RESTORE_FROM_LEDGER,
  registryMissing,
  tagMismatch,
} from "./findings.js";
import { describeBorrow, formatTime } from "./format.js";
import type { ClassifyContext, Slot } from "./slot.js";
import type { KeyView } from "./types.js";

/**
 * Classifies one borrow of a key that is absent or unreadable: the ledger stands in for the key,
 * and nothing is judged removable until the key confirms it.
 */
export function classifyAbsent(slot: Slot, view: KeyView | undefined, ctx: ClassifyContext): void {
  const keyNow = view?.keyTimeMs ?? ctx.now;
  const l = slot.led;
  const r = slot.reg;
  const why = view?.present ? "cannot be read" : "is not present";

  if (l !== undefined && l.state === "dummy") {
    const until = l.dummyUntil ?? null;
    if (until === null || until > ctx.now) {
      ctx.dummies.push({ serial: slot.serial, product: l.product, borrowId: l.id, dummyUntil: until });
    }
    ctx.out.push(dummyFinding(slot, l.product, l.client, until, ctx.now));
    return;
  }

  if (l !== undefined) {
    const expired = keyNow >= l.expiresAt;
    const deadline = l.expiresAt + (view?.settleWindowMs ?? DEFAULT_SETTLE_WINDOW_MS);
    ctx.out.push(
      finding(
        "key-absent",
        expired ? "critical" : "warning",
        `Key ${slot.serial} ${why}, so ${describeBorrow(slot.serial, l)} cannot be returned until the key is back` +
          (expired
            ? `; it has expired: plug the key back in before ${formatTime(deadline)} or it becomes a borrow dummy.`
            : "."),
        { action: "wait", safe: false, description: `Plug key ${slot.serial} back into this computer.` },
        slot,
        l.product,
        l.client,
      ),
    );
    if (ctx.registryReadable) {
      if (r === undefined) ctx.out.push(registryMissing(slot, l));
      else {
        const changed = changedFields(l, r);
        if (changed !== "") {
          ctx.out.push(
            finding(
              "registry-changed",
              "warning",
              `The registry entry of ${describeBorrow(slot.serial, l)} differs from the ledger in ${changed}.`,
              RESTORE_FROM_LEDGER,
              slot,
              l.product,
              l.client,
            ),
          );
        }
        if (r.tag !== l.tag) ctx.out.push(tagMismatch(slot, l));
      }
    }
    if (l.binding !== ctx.hostBinding) {
      ctx.out.push(
        finding(
          "binding-mismatch",
          "critical",
          `${describeBorrow(slot.serial, l, "Borrow")} is bound to another host identity; once key ${slot.serial} is back, ` +
            `run keybridge migrate before returning it.`,
          MIGRATE_WHEN_KEY_BACK,
          slot,
          l.product,
          l.client,
        ),
      );
    }
    return;
  }

  if (r !== undefined) {
    if (slot.hist !== undefined) {
      ctx.out.push(
        finding(
          "registry-extra",
          "info",
          `The registry lists ${describeBorrow(slot.serial, r)}, which the ledger records as ${slot.hist.state}; ` +
            `it will be removed once key ${slot.serial} confirms it.`,
          { action: "wait", safe: false, description: `Remove the entry once key ${slot.serial} is back.` },
          slot,
          r.product,
          r.client,
        ),
      );
    } else {
      ctx.out.push(
        finding(
          "key-absent",
          keyNow >= r.expiresAt ? "critical" : "warning",
          `Key ${slot.serial} ${why}; the registry lists ${describeBorrow(slot.serial, r)}, which the ledger does not know: ` +
            `keep the entry, the ledger row is rebuilt when the key is back.`,
          { action: "wait", safe: false, description: `Plug key ${slot.serial} back into this computer.` },
          slot,
          r.product,
          r.client,
        ),
      );
    }
  }
}

import { DEFAULT_SETTLE_WINDOW_MS } from "../vocabulary/index.js";
import type { BorrowViews, Classified, ClassifyContext } from "./borrow-views.js";
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
import type { Finding, KeyView } from "./types.js";

/**
 * Classifies one borrow of a key that is absent or unreadable: the ledger stands in for the key,
 * and nothing is judged removable until the key confirms it.
 */
export function classifyAbsent(borrow: BorrowViews, view: KeyView | undefined, ctx: ClassifyContext): Classified {
  const keyNow = view?.keyTimeMs ?? ctx.now;
  const l = borrow.led;
  const r = borrow.reg;
  const why = view?.present ? "cannot be read" : "is not present";

  if (l !== undefined && l.state === "dummy") {
    const until = l.dummyUntil ?? null;
    const found = dummyFinding(borrow, l.product, l.client, until, ctx.now);
    // A dummy whose time has passed blocks nothing any more: the key drops it when it next looks (K5).
    if (until !== null && until <= ctx.now) return { findings: [found] };
    return {
      findings: [found],
      dummy: { serial: borrow.serial, product: l.product, borrowId: l.id, dummyUntil: until },
    };
  }
  const findings: Finding[] = [];

  if (l !== undefined) {
    const expired = keyNow >= l.expiresAt;
    const deadline = l.expiresAt + (view?.settleWindowMs ?? DEFAULT_SETTLE_WINDOW_MS);
    findings.push(
      finding(
        "key-absent",
        expired ? "critical" : "warning",
        `Key ${borrow.serial} ${why}, so ${describeBorrow(borrow.serial, l)} cannot be returned until the key is back` +
          (expired
            ? `; it has expired: plug the key back in before ${formatTime(deadline)} or it becomes a borrow dummy.`
            : "."),
        { action: "wait", safe: false, description: `Plug key ${borrow.serial} back into this computer.` },
        borrow,
        l.product,
        l.client,
      ),
    );
    if (ctx.registryReadable) {
      if (r === undefined) findings.push(registryMissing(borrow, l));
      else {
        const changed = changedFields(l, r);
        if (changed !== "") {
          findings.push(
            finding(
              "registry-changed",
              "warning",
              `The registry entry of ${describeBorrow(borrow.serial, l)} differs from the ledger in ${changed}.`,
              RESTORE_FROM_LEDGER,
              borrow,
              l.product,
              l.client,
            ),
          );
        }
        if (r.tag !== l.tag) findings.push(tagMismatch(borrow, l));
      }
    }
    if (l.binding !== ctx.hostBinding) {
      findings.push(
        finding(
          "binding-mismatch",
          "critical",
          `${describeBorrow(borrow.serial, l, "Borrow")} is bound to another host identity; once key ${borrow.serial} is back, ` +
            `run keybridge migrate before returning it.`,
          MIGRATE_WHEN_KEY_BACK,
          borrow,
          l.product,
          l.client,
        ),
      );
    }
    return { findings };
  }

  if (r !== undefined) {
    if (borrow.hist !== undefined) {
      findings.push(
        finding(
          "registry-extra",
          "info",
          `The registry lists ${describeBorrow(borrow.serial, r)}, which the ledger records as ${borrow.hist.state}; ` +
            `it will be removed once key ${borrow.serial} confirms it.`,
          { action: "wait", safe: false, description: `Remove the entry once key ${borrow.serial} is back.` },
          borrow,
          r.product,
          r.client,
        ),
      );
    } else {
      findings.push(
        finding(
          "key-absent",
          keyNow >= r.expiresAt ? "critical" : "warning",
          `Key ${borrow.serial} ${why}; the registry lists ${describeBorrow(borrow.serial, r)}, which the ledger does not know: ` +
            `keep the entry, the ledger row is rebuilt when the key is back.`,
          { action: "wait", safe: false, description: `Plug key ${borrow.serial} back into this computer.` },
          borrow,
          r.product,
          r.client,
        ),
      );
    }
  }
  return { findings };
}

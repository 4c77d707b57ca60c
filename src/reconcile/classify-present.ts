import type { BorrowViews, Classified, ClassifyContext } from "./borrow-views.js";
import {
  changedFields,
  dummyFinding,
  finding,
  MARK_LEDGER_SETTLED,
  MIGRATE_AFTER_REBUILD,
  MIGRATE_WITH_PROOF,
  REBUILD_LEDGER_FROM_KEY,
  REMOVE_CONFIRMED_ENTRY,
  RESTORE_FROM_KEY,
  registryMissing,
  SETTLE_AFTER_MIGRATE,
  SETTLE_AFTER_REBUILD,
  SETTLE_NOW,
  tagMismatch,
} from "./findings.js";
import { describeBorrow, formatTime } from "./format.js";
import type { Finding, KeyView } from "./types.js";

/**
 * Classifies one borrow of a key that could be read: the key's record is the truth, the ledger
 * and the registry are compared with it. A borrow that yields no finding is healthy.
 */
export function classifyPresent(borrow: BorrowViews, view: KeyView, ctx: ClassifyContext): Classified {
  const keyNow = view.keyTimeMs ?? ctx.now;
  const findings: Finding[] = [];
  const k = borrow.key;
  const l = borrow.led;
  const r = borrow.reg;

  if (k === undefined) {
    if (l !== undefined) {
      const expected = l.state !== "active" || keyNow >= l.expiresAt;
      findings.push(
        finding(
          "ledger-orphan",
          expected ? "info" : "warning",
          `${describeBorrow(borrow.serial, l, "Borrow")} is outstanding in the ledger but the key no longer holds it: ` +
            `the key has settled it${expected ? "" : " before its expiry, although keybridge did not return it"}.`,
          MARK_LEDGER_SETTLED,
          borrow,
          l.product,
          l.client,
        ),
      );
    }
    if (r !== undefined) {
      findings.push(
        finding(
          "registry-extra",
          "info",
          `The registry lists ${describeBorrow(borrow.serial, r)}, which the key does not hold` +
            (l === undefined && borrow.hist === undefined ? " and the ledger does not know." : " any more."),
          REMOVE_CONFIRMED_ENTRY,
          borrow,
          r.product,
          r.client,
        ),
      );
    }
    return { findings };
  }

  if (k.state === "dummy") {
    const until = k.dummyUntil ?? null;
    return {
      findings: [dummyFinding(borrow, k.product, k.client, until, keyNow)],
      dummy: { serial: borrow.serial, product: k.product, borrowId: k.id, dummyUntil: until },
    };
  }

  const derived = ctx.derivedTags?.[k.opId];
  const tagRecoverable = r !== undefined || derived !== undefined || ctx.tagDerivable;
  let ledgerHoldsTag = l !== undefined;

  if (l === undefined) {
    const tagSource = r !== undefined ? "registry" : tagRecoverable ? "derived" : undefined;
    const what = describeBorrow(borrow.serial, k, "Borrow");
    const message =
      tagSource === "registry"
        ? `${what} is on the key but missing from the ledger; the row can be rebuilt from the key and the registry.`
        : tagSource === "derived"
          ? `${what} is on the key but missing from the ledger and the registry; its tag is derived from the ` +
            `server secret, so both can be rebuilt.`
          : `${what} is on the key but missing from the ledger and the registry, and its tag cannot be recovered: ` +
            `returning or settling it will create a borrow dummy.`;
    findings.push(
      finding(
        "ledger-missing",
        tagSource === undefined ? "critical" : "warning",
        message,
        tagSource === undefined
          ? {
              action: "none",
              safe: false,
              description: `The tag is lost; expect product ${k.product} to be blocked for one borrow period after ${formatTime(k.expiresAt)}.`,
            }
          : {
              action: "rebuild-ledger",
              safe: true,
              description: `Rebuild the ledger row from the key and the ${tagSource === "registry" ? "registry's" : "derived"} tag.`,
              tagSource,
            },
        borrow,
        k.product,
        k.client,
      ),
    );
    ledgerHoldsTag = false;
  } else {
    const changed = changedFields(k, l);
    if (changed !== "") {
      findings.push(
        finding(
          "ledger-changed",
          "warning",
          `The ledger row of ${describeBorrow(borrow.serial, k)} differs from the key in ${changed}; the key is right.`,
          REBUILD_LEDGER_FROM_KEY,
          borrow,
          k.product,
          k.client,
        ),
      );
    }
  }

  if (ctx.registryReadable) {
    if (r === undefined) {
      if (tagRecoverable || l !== undefined) {
        findings.push(registryMissing(borrow, k));
      }
    } else {
      const changed = changedFields(k, r);
      if (changed !== "") {
        findings.push(
          finding(
            "registry-changed",
            "warning",
            `The registry entry of ${describeBorrow(borrow.serial, k)} differs from the key in ${changed}.`,
            RESTORE_FROM_KEY,
            borrow,
            k.product,
            k.client,
          ),
        );
      }
      if (l !== undefined && r.tag !== l.tag) findings.push(tagMismatch(borrow, k));
    }
  }

  if (k.binding !== ctx.hostBinding) {
    const moved = ctx.keyMoved(borrow.serial);
    findings.push(
      finding(
        "binding-mismatch",
        "critical",
        `${describeBorrow(borrow.serial, k, "Borrow")} is bound to another host identity ` +
          (moved
            ? "because the key was moved here from another computer"
            : "because this computer's IP address, hostname or machine id changed") +
          `; returning it now would create a borrow dummy.`,
        ledgerHoldsTag ? MIGRATE_WITH_PROOF : MIGRATE_AFTER_REBUILD,
        borrow,
        k.product,
        k.client,
      ),
    );
  }

  if (keyNow >= k.expiresAt) {
    const deadline = k.expiresAt + view.settleWindowMs;
    const bindingMatches = k.binding === ctx.hostBinding;
    const safe = bindingMatches && ledgerHoldsTag;
    const close = deadline - keyNow <= view.settleWindowMs / 4;
    findings.push(
      finding(
        "expired-unsettled",
        close || !safe ? "critical" : "warning",
        `${describeBorrow(borrow.serial, k, "Borrow")} has expired and is not settled; the key turns it into a borrow ` +
          `dummy if it is not settled by ${formatTime(deadline)} (key time).`,
        safe ? SETTLE_NOW : bindingMatches ? SETTLE_AFTER_REBUILD : SETTLE_AFTER_MIGRATE,
        borrow,
        k.product,
        k.client,
      ),
    );
  }
  return { findings };
}

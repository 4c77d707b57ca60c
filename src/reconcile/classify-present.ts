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
import type { ClassifyContext, Slot } from "./slot.js";
import type { KeyView } from "./types.js";

/**
 * Classifies one borrow of a key that could be read: the key's record is the truth, the ledger
 * and the registry are compared with it. A borrow that yields no finding is healthy.
 */
export function classifyPresent(slot: Slot, view: KeyView, ctx: ClassifyContext): void {
  const keyNow = view.keyTimeMs ?? ctx.now;
  const k = slot.key;
  const l = slot.led;
  const r = slot.reg;

  if (k === undefined) {
    if (l !== undefined) {
      const expected = l.state !== "active" || keyNow >= l.expiresAt;
      ctx.out.push(
        finding(
          "ledger-orphan",
          expected ? "info" : "warning",
          `${describeBorrow(slot.serial, l, "Borrow")} is outstanding in the ledger but the key no longer holds it: ` +
            `the key has settled it${expected ? "" : " before its expiry, although keybridge did not return it"}.`,
          MARK_LEDGER_SETTLED,
          slot,
          l.product,
          l.client,
        ),
      );
    }
    if (r !== undefined) {
      ctx.out.push(
        finding(
          "registry-extra",
          "info",
          `The registry lists ${describeBorrow(slot.serial, r)}, which the key does not hold` +
            (l === undefined && slot.hist === undefined ? " and the ledger does not know." : " any more."),
          REMOVE_CONFIRMED_ENTRY,
          slot,
          r.product,
          r.client,
        ),
      );
    }
    return;
  }

  if (k.state === "dummy") {
    const until = k.dummyUntil ?? null;
    ctx.dummies.push({ serial: slot.serial, product: k.product, borrowId: k.id, dummyUntil: until });
    ctx.out.push(dummyFinding(slot, k.product, k.client, until, keyNow));
    return;
  }

  const derived = ctx.derivedTags?.[k.opId];
  const tagRecoverable = r !== undefined || derived !== undefined || ctx.tagDerivable;
  let ledgerHoldsTag = l !== undefined;

  if (l === undefined) {
    const tagSource = r !== undefined ? "registry" : tagRecoverable ? "derived" : undefined;
    const what = describeBorrow(slot.serial, k, "Borrow");
    const message =
      tagSource === "registry"
        ? `${what} is on the key but missing from the ledger; the row can be rebuilt from the key and the registry.`
        : tagSource === "derived"
          ? `${what} is on the key but missing from the ledger and the registry; its tag is derived from the ` +
            `server secret, so both can be rebuilt.`
          : `${what} is on the key but missing from the ledger and the registry, and its tag cannot be recovered: ` +
            `returning or settling it will create a borrow dummy.`;
    ctx.out.push(
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
        slot,
        k.product,
        k.client,
      ),
    );
    ledgerHoldsTag = false;
  } else {
    const changed = changedFields(k, l);
    if (changed !== "") {
      ctx.out.push(
        finding(
          "ledger-changed",
          "warning",
          `The ledger row of ${describeBorrow(slot.serial, k)} differs from the key in ${changed}; the key is right.`,
          REBUILD_LEDGER_FROM_KEY,
          slot,
          k.product,
          k.client,
        ),
      );
    }
  }

  if (ctx.registryReadable) {
    if (r === undefined) {
      if (tagRecoverable || l !== undefined) {
        ctx.out.push(registryMissing(slot, k));
      }
    } else {
      const changed = changedFields(k, r);
      if (changed !== "") {
        ctx.out.push(
          finding(
            "registry-changed",
            "warning",
            `The registry entry of ${describeBorrow(slot.serial, k)} differs from the key in ${changed}.`,
            RESTORE_FROM_KEY,
            slot,
            k.product,
            k.client,
          ),
        );
      }
      if (l !== undefined && r.tag !== l.tag) ctx.out.push(tagMismatch(slot, k));
    }
  }

  if (k.binding !== ctx.hostBinding) {
    const moved = ctx.keyMoved(slot.serial);
    ctx.out.push(
      finding(
        "binding-mismatch",
        "critical",
        `${describeBorrow(slot.serial, k, "Borrow")} is bound to another host identity ` +
          (moved
            ? "because the key was moved here from another computer"
            : "because this computer's IP address, hostname or machine id changed") +
          `; returning it now would create a borrow dummy.`,
        ledgerHoldsTag ? MIGRATE_WITH_PROOF : MIGRATE_AFTER_REBUILD,
        slot,
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
    ctx.out.push(
      finding(
        "expired-unsettled",
        close || !safe ? "critical" : "warning",
        `${describeBorrow(slot.serial, k, "Borrow")} has expired and is not settled; the key turns it into a borrow ` +
          `dummy if it is not settled by ${formatTime(deadline)} (key time).`,
        safe ? SETTLE_NOW : bindingMatches ? SETTLE_AFTER_REBUILD : SETTLE_AFTER_MIGRATE,
        slot,
        k.product,
        k.client,
      ),
    );
  }
}

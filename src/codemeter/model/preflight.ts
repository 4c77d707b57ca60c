import {
  formatTime,
  isPreflightAction,
  type PreflightAction,
  UnknownPreflightActionError,
} from "../../reconcile/index.js";
import type { BorrowBook } from "./borrow-book.js";
import { byExpiry, describeCodeMeterBorrow, lastEnd, untilText } from "./describe.js";
import { containerKind } from "./identifiers.js";
import type { BorrowObservation } from "./observations.js";
import { codeMeterPresent, turnTrackingOnAdvice } from "./risks.js";
import { isoOf } from "./timestamp.js";

/**
 * "Is it safe to do X now?" answered for CodeMeter borrows. Every one of the nine actions can
 * turn an outstanding CodeMeter borrow into a Borrow Dummy, and keybridge can neither return nor
 * move a CodeMeter borrow, so an action is unsafe while a borrow it concerns is out. Pure.
 */

export interface CodeMeterBorrowRef {
  readonly source: "codemeter";
  readonly borrowId: string;
  readonly serial: string | null;
  readonly firmCode: number | null;
  readonly productCode: number | null;
  readonly client: string | null;
  readonly user: string | null;
  /** ISO time, or null for `never`. */
  readonly expiresAt: string | null;
}

export interface CodeMeterPreflight {
  readonly action: PreflightAction;
  readonly safe: boolean;
  /** Why not, one sentence per borrow in the way; empty when safe. */
  readonly reasons: readonly string[];
  readonly advice: readonly string[];
  /** Facts that do not change the verdict (borrows already lost, what keybridge cannot see). */
  readonly info: readonly string[];
  readonly borrows: readonly CodeMeterBorrowRef[];
  /** When the last borrow in the way ends (ISO); null when none is in the way or one never expires. */
  readonly lastEndsAt: string | null;
  /** False when keybridge cannot see every CodeMeter borrow (License Tracking off, log unreadable). */
  readonly complete: boolean;
}

export function borrowRef(borrow: BorrowObservation): CodeMeterBorrowRef {
  return {
    source: "codemeter",
    borrowId: borrow.borrowId,
    serial: borrow.serial,
    firmCode: borrow.firmCode,
    productCode: borrow.productCode,
    client: borrow.client,
    user: borrow.user,
    expiresAt: borrow.expiresAt === null ? null : isoOf(borrow.expiresAt),
  };
}

const CONSEQUENCE: Record<PreflightAction, string> = {
  "upgrade-licenses":
    "would become a Borrow Dummy: re-programming licenses while they are borrowed turns the borrowed ones into dummies",
  "install-major-version":
    "must be re-listed by the new version from the borrow data the old one wrote; if it cannot read it, the borrow becomes a Borrow Dummy",
  "unplug-key": "can be taken back only into the stick it was borrowed from, plugged into this computer",
  "move-key":
    "can be taken back only into its stick on this computer; moved elsewhere, the stick turns it into a Borrow Dummy",
  "uninstall-driver":
    "loses CodeMeter's copy of it (the Borrow sections of the configuration) if the uninstall removes the configuration",
  "reinstall-os": "loses CodeMeter's configuration, which holds its copy of the borrow, and this server's identity",
  "change-ip": "was borrowed from this server at its current IP address; CodeMeter may refuse the return at another",
  "restart-service":
    "must be re-listed from the configuration when the service starts again (vendors advise against restarting while borrows are out)",
  "change-hostname":
    "was borrowed from this server under its current name; CodeMeter may refuse the return under another",
};

/** The borrows an action concerns: a stick action only those whose license lives on a stick (or an unknown container). */
function inTheWay(action: PreflightAction, held: readonly BorrowObservation[]): BorrowObservation[] {
  if (action !== "unplug-key" && action !== "move-key") return [...held];
  return held.filter((borrow) => {
    const kind = containerKind(borrow.serial);
    return kind === "CmStick" || kind === "unknown";
  });
}

/** Can keybridge see every CodeMeter borrow now? */
export function trackingComplete(book: BorrowBook): { complete: boolean; why: string | null } {
  const config = book.live.config;
  if (config?.kind === "ok" && !config.config.tracking.enabled) {
    return {
      complete: false,
      why: `License Tracking is off, so CodeMeter borrows are invisible to keybridge. ${turnTrackingOnAdvice(config.config.where, config.config.origin)}`,
    };
  }
  const tracking = book.live.tracking;
  if (tracking !== null && (tracking.state === "missing" || tracking.state === "unreadable")) {
    return {
      complete: false,
      why: `The License Tracking log (${tracking.dir ?? "?"}) cannot be read, so borrows made since it was last read are invisible to keybridge.`,
    };
  }
  return { complete: true, why: null };
}

export function codeMeterPreflight(action: PreflightAction, book: BorrowBook, now: number): CodeMeterPreflight {
  if (!isPreflightAction(action)) throw new UnknownPreflightActionError(String(action));
  const held = inTheWay(action, book.outstanding(now).sort(byExpiry));
  const { complete, why } = trackingComplete(book);
  const info: string[] = [];
  for (const borrow of book.missing(now).sort(byExpiry)) {
    info.push(
      `${capitalize(describeCodeMeterBorrow(borrow))} was already lost at the server start of ${formatTime(borrow.missingSince)} (a Borrow Dummy is likely until about ${formatTime(borrow.dummyUntil)}); nothing can be done about it.`,
    );
  }
  if (why !== null && codeMeterPresent(book)) info.push(why);
  if (held.length === 0) {
    return { action, safe: true, reasons: [], advice: [], info, borrows: [], lastEndsAt: null, complete };
  }
  const last = lastEnd(held);
  const reasons = held.map((borrow) => `${capitalize(describeCodeMeterBorrow(borrow))} ${CONSEQUENCE[action]}.`);
  const advice = [
    `Wait ${untilText(held)} — keybridge cannot return or shorten CodeMeter borrows — or ask the borrowers to return them early. ` +
      "CodeMeter logs no returns: if every borrower confirms the return, the action is safe, and keybridge sees the borrows gone at the next server start.",
    `To do it on a given day, plan the window and set "Maximum Borrow Duration" in CodeMeter WebAdmin as keybridge's maintenance advice says, so no new borrow reaches past it.`,
  ];
  return {
    action,
    safe: false,
    reasons,
    advice,
    info,
    borrows: held.map(borrowRef),
    lastEndsAt: last === null ? null : isoOf(last),
    complete,
  };
}

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

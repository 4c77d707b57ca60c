import type { BorrowBook } from "./borrow-book.js";
import { byExpiry } from "./describe.js";
import type { Finding } from "./findings.js";
import { containerKind, sameContainer } from "./identifiers.js";
import type { BorrowObservation, KnownBy } from "./observations.js";
import { codeMeterPresent, stickPresent } from "./risks.js";
import type { BorrowSectionName, SectionFingerprint } from "./server-config.js";
import { isoOf } from "./timestamp.js";

/**
 * The CodeMeter picture as one value: what `GET /v1/codemeter` and `keybridge codemeter` will
 * show. Unknown values are null; times are ISO 8601. Pure.
 */

export interface CodeMeterBorrowView {
  readonly source: "codemeter";
  readonly borrowId: string;
  /** The server container holding the license. */
  readonly serial: string | null;
  readonly firmCode: number | null;
  readonly productCode: number | null;
  readonly productText: string | null;
  /** Shown for reference only: it can change after a plug-out or re-programming. */
  readonly licenseId: string | null;
  readonly client: string | null;
  readonly user: string | null;
  /** ISO, or null for `never`. */
  readonly expiresAt: string | null;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly knownBy: KnownBy;
  /** Not re-listed at a server start: CodeMeter lost it, a Borrow Dummy is likely. */
  readonly missing: boolean;
  /** Until when that dummy probably blocks borrowing (ISO); null unless missing. */
  readonly dummyUntil: string | null;
}

export interface CodeMeterStickView {
  readonly serial: string;
  readonly model: string | null;
  readonly present: boolean;
}

export interface CodeMeterView {
  /** CodeMeter was found on this host (runtime, configuration, a stick or a log). */
  readonly enabled: boolean;
  readonly runtime: {
    readonly version: string | null;
    readonly serviceRunning: boolean | null;
    /** What cmu said last: `ok`, `missing` (not found), `failed` (a finding says why), or `unknown` before the first call. */
    readonly cmu: "ok" | "missing" | "failed" | "unknown";
  };
  readonly tracking: {
    /** From the configuration; null while it is unknown. */
    readonly enabled: boolean | null;
    readonly dir: string | null;
    readonly state: "ok" | "missing" | "unreadable" | "none" | "unknown";
    readonly files: number;
    readonly malformedLines: number;
    readonly oversizedLines: number;
  };
  readonly config: {
    readonly where: string;
    readonly origin: "ini" | "registry";
    /** false when the file or key is gone; the other values are then the last ones read. */
    readonly present: boolean;
    readonly ports: { network: number | null; wan: number | null; http: number | null; https: number | null };
    readonly bindAddress: string | null;
    readonly borrowSections: Readonly<Record<BorrowSectionName, SectionFingerprint>>;
  } | null;
  readonly sticks: readonly CodeMeterStickView[];
  /** Outstanding borrows and missing ones, soonest expiry first. */
  readonly borrows: readonly CodeMeterBorrowView[];
  readonly findings: readonly Finding[];
}

export function borrowView(borrow: BorrowObservation): CodeMeterBorrowView {
  return {
    source: "codemeter",
    borrowId: borrow.borrowId,
    serial: borrow.serial,
    firmCode: borrow.firmCode,
    productCode: borrow.productCode,
    productText: borrow.productText,
    licenseId: borrow.licenseId,
    client: borrow.client,
    user: borrow.user,
    expiresAt: borrow.expiresAt === null ? null : isoOf(borrow.expiresAt),
    firstSeen: isoOf(borrow.firstSeen),
    lastSeen: isoOf(borrow.lastSeen),
    knownBy: borrow.knownBy,
    missing: borrow.status === "missing",
    dummyUntil: borrow.dummyUntil === null ? null : isoOf(borrow.dummyUntil),
  };
}

function stickViews(book: BorrowBook, held: readonly BorrowObservation[]): CodeMeterStickView[] {
  const views: CodeMeterStickView[] = [];
  for (const stick of book.live.sticks ?? []) {
    views.push({ serial: stick.serial === "" ? `usb:${stick.path}` : stick.serial, model: stick.model, present: true });
  }
  const cmu = book.live.cmu?.kind === "ok" ? book.live.cmu.list.serials : [];
  for (const serial of cmu) {
    if (containerKind(serial) !== "CmStick" || views.some((view) => sameContainer(view.serial, serial))) continue;
    // cmu's list is as old as its last run; a stick seen leaving USB since is gone, as the risks say.
    views.push({ serial, model: null, present: stickPresent(book, serial) ?? true });
  }
  for (const borrow of held) {
    const serial = borrow.serial;
    if (serial === null || containerKind(serial) !== "CmStick") continue;
    if (views.some((view) => sameContainer(view.serial, serial))) continue;
    views.push({ serial, model: null, present: stickPresent(book, serial) ?? false });
  }
  return views;
}

export function buildView(book: BorrowBook, now: number): CodeMeterView {
  const live = book.live;
  const held = book.outstanding(now);
  const borrows = [...held, ...book.missing(now)].sort(byExpiry).map(borrowView);
  const cmu = live.cmu;
  const config = live.configGood;
  const tracking = live.tracking;
  const findings: Finding[] = [];
  if (cmu?.kind === "failed") findings.push(cmu.finding);
  findings.push(...live.configFindings);
  findings.push(...(tracking?.findings ?? []));
  return {
    enabled: codeMeterPresent(book),
    runtime: {
      version: book.runtimeVersion(),
      serviceRunning: book.facts.service?.running ?? null,
      cmu: cmu === null ? "unknown" : cmu.kind,
    },
    tracking: {
      enabled: config === null ? null : config.tracking.enabled,
      dir: tracking?.dir ?? config?.tracking.dir ?? null,
      state: tracking?.state ?? "unknown",
      files: tracking?.files ?? 0,
      malformedLines: tracking?.malformedLines ?? 0,
      oversizedLines: tracking?.oversizedLines ?? 0,
    },
    config:
      config === null
        ? null
        : {
            where: config.where,
            origin: config.origin,
            present: live.config?.kind !== "missing",
            ports: config.ports,
            bindAddress: config.bindAddress,
            borrowSections: config.borrow,
          },
    sticks: stickViews(book, held),
    borrows,
    findings,
  };
}

import { formatTime } from "../../reconcile/index.js";
import { RISK_SEVERITY, type RiskKind } from "../../vocabulary/index.js";
import type { BorrowBook } from "./borrow-book.js";
import {
  byExpiry,
  describeCodeMeterBorrow,
  describeCodeMeterBorrows,
  firstEnd,
  isAre,
  plural,
  untilText,
} from "./describe.js";
import { containerKind, sameContainer } from "./identifiers.js";
import type { HostSnapshot } from "./inputs.js";
import type { BorrowObservation } from "./observations.js";
import type { BorrowSectionName } from "./server-config.js";

/**
 * The risks to CodeMeter borrows, derived from the borrow book alone: no I/O, no clock. Each names
 * the borrows it endangers and says what to do. They are raised only while CodeMeter borrows are
 * outstanding — with nothing borrowed, unplugging the stick or changing the IP harms nothing —
 * except `borrow-missing` (about a borrow already lost) and `tracking-off` (about not seeing).
 */

export const CODEMETER_RISK_KINDS = [
  "key-unplugged",
  "key-moved",
  "host-ip-changed",
  "host-hostname-changed",
  "host-machine-id-changed",
  "driver-changed",
  "driver-removed",
  "service-stopped",
  "registry-lost",
  "borrow-missing",
  "clock-jump",
  "maintenance-blocked",
  "tracking-off",
] as const satisfies readonly RiskKind[];
export type CodeMeterRiskKind = (typeof CODEMETER_RISK_KINDS)[number];

export type RiskSeverity = "info" | "warning" | "critical";

/** The vocabulary's severities (one table for keybridge's risks and CodeMeter's). */
export const CODEMETER_SEVERITY: Readonly<Record<CodeMeterRiskKind, RiskSeverity>> = RISK_SEVERITY;

/** A risk as derived, before the watcher gives it a stable `since`. */
export interface DerivedRisk {
  readonly kind: CodeMeterRiskKind;
  /** The stick (container serial) it concerns, when it concerns one. */
  readonly serial?: string;
  readonly borrows: readonly BorrowObservation[];
  readonly message: string;
  readonly advice: string;
  /** When its cause began, when that is known (epoch ms). */
  readonly since?: number;
}

/** A planned maintenance window (epoch ms). */
export interface MaintenanceWindow {
  readonly at: number;
  readonly until: number | null;
  readonly action: string | null;
}

/** How long before a planned maintenance the borrows still in its way become a risk (as for keybridge's own). */
export const MAINTENANCE_LEAD_MS = 48 * 3_600_000;

export interface RiskOptions {
  readonly maintenance?: MaintenanceWindow | null;
}

export function riskKey(kind: CodeMeterRiskKind, serial: string | undefined): string {
  return `codemeter|${kind}|${serial ?? ""}`;
}

/** Is CodeMeter on this host at all? Any source that found a trace of it says yes. */
export function codeMeterPresent(book: BorrowBook): boolean {
  const { cmu, config, sticks, entriesSeen } = book.live;
  return (
    (cmu !== null && cmu.kind !== "missing") ||
    (config !== null && config.kind !== "missing") ||
    (sticks !== null && sticks.length > 0) ||
    entriesSeen ||
    book.allBorrows().some((borrow) => borrow.status !== "gone")
  );
}

export function deriveRisks(book: BorrowBook, now: number, options: RiskOptions = {}): DerivedRisk[] {
  const risks: DerivedRisk[] = [];
  const tracking = trackingOffRisk(book);
  if (tracking !== undefined) risks.push(tracking);
  risks.push(...missingRisks(book.missing(now)));
  const held = book.outstanding(now).sort(byExpiry);
  if (held.length === 0) return risks;
  risks.push(...stickRisks(book, held));
  risks.push(...hostRisks(book.live.host, held));
  risks.push(...runtimeRisks(book, held));
  const service = serviceRisk(book, held);
  if (service !== undefined) risks.push(service);
  const registry = registryRisk(book, held);
  if (registry !== undefined) risks.push(registry);
  const clock = clockRisk(book, held);
  if (clock !== undefined) risks.push(clock);
  const maintenance = maintenanceRisk(options.maintenance ?? null, held, now);
  if (maintenance !== undefined) risks.push(maintenance);
  return risks;
}

// ---- tracking --------------------------------------------------------------------------

const TURN_ON_INI =
  "set LogLicenseTracking=1 in the [General] section of Server.ini (or turn License Tracking on in CodeMeter WebAdmin's server configuration)";

export function turnTrackingOnAdvice(where: string, origin: "ini" | "registry"): string {
  const how =
    origin === "registry"
      ? `set the value LogLicenseTracking to 1 in the General settings under ${where} (or turn License Tracking on in CodeMeter WebAdmin's server configuration)`
      : `${TURN_ON_INI.replace("Server.ini", where)}`;
  return (
    `Turn License Tracking on: ${how}. CodeMeter reads its configuration only when it starts, so restart the CodeMeter service ` +
    "afterwards, at a moment when no license is borrowed or your users confirm a restart is safe. Borrows made before are " +
    "invisible until that start: at every start CodeMeter writes each borrow still out into the log, and keybridge sees them from then on."
  );
}

function trackingOffRisk(book: BorrowBook): DerivedRisk | undefined {
  const config = book.live.config;
  if (config?.kind !== "ok" || config.config.tracking.enabled) return undefined;
  if (!codeMeterPresent(book)) return undefined;
  const { where, origin, tracking } = config.config;
  const setting = tracking.setting === null ? "not set, and off by default" : `LogLicenseTracking=${tracking.setting}`;
  return {
    kind: "tracking-off",
    borrows: [],
    message:
      `CodeMeter License Tracking is off (${setting} in ${where}): keybridge cannot see CodeMeter borrows, so it raises ` +
      "no risk for them and its preflight cannot protect them.",
    advice: turnTrackingOnAdvice(where, origin),
  };
}

// ---- missing borrows ---------------------------------------------------------------------

function missingRisks(missing: readonly BorrowObservation[]): DerivedRisk[] {
  const bySerial = new Map<string, BorrowObservation[]>();
  for (const borrow of [...missing].sort(byExpiry)) {
    const serial = borrow.serial ?? "";
    bySerial.set(serial, [...(bySerial.get(serial) ?? []), borrow]);
  }
  return [...bySerial].map(([serial, borrows]) => {
    const lines = borrows.map(
      (borrow) =>
        `${describeCodeMeterBorrow(borrow)} was not re-listed when CodeMeter started at ${formatTime(borrow.missingSince)}, so CodeMeter lost it: ` +
        `a Borrow Dummy is likely, blocking borrowing of that license until about ${formatTime(borrow.dummyUntil)}, even with seats free`,
    );
    const who = borrows
      .map((borrow) => [borrow.client, borrow.user].filter((part) => part !== null).join("/"))
      .filter((text) => text !== "");
    return {
      kind: "borrow-missing" as const,
      ...(serial === "" ? {} : { serial }),
      borrows,
      since: Math.min(...borrows.map((borrow) => borrow.missingSince ?? Number.POSITIVE_INFINITY)),
      message: `${lines.join("; ")}.`,
      advice:
        `Nothing can shorten a Borrow Dummy. Tell ${who.length > 0 ? who.join(", ") : "the borrowers"} to keep using the borrowed license until it expires and not to return it; ` +
        "if the license is needed for borrowing sooner, contact the license vendor. Look at what changed before that start (the other risks, keybridge events) so it does not happen again.",
    };
  });
}

// ---- sticks ------------------------------------------------------------------------------

/** Is the stick with this CodeMeter serial plugged in? null when no source can tell. */
export function stickPresent(book: BorrowBook, serial: string): boolean | null {
  const { sticks, usbSerialsSeen, cmu } = book.live;
  const seenOnUsb = [...usbSerialsSeen].some((usb) => sameContainer(usb, serial));
  if (sticks !== null && seenOnUsb) return sticks.some((stick) => sameContainer(stick.serial, serial));
  if (cmu?.kind === "ok" && (cmu.list.count !== null || cmu.list.serials.length > 0)) {
    return cmu.list.serials.some((listed) => sameContainer(listed, serial));
  }
  if (sticks !== null && sticks.length === 0) return false;
  return null;
}

function stickRisks(book: BorrowBook, held: readonly BorrowObservation[]): DerivedRisk[] {
  const bySerial = new Map<string, BorrowObservation[]>();
  for (const borrow of held) {
    if (borrow.serial === null || containerKind(borrow.serial) !== "CmStick") continue;
    bySerial.set(borrow.serial, [...(bySerial.get(borrow.serial) ?? []), borrow]);
  }
  const required = [...bySerial.keys()];
  const baseline = book.facts.episode.sticks ?? [];
  const newcomers = (book.presentSticks() ?? []).filter(
    (serial) =>
      !required.some((needed) => sameContainer(serial, needed)) &&
      !baseline.some((known) => sameContainer(serial, known)),
  );
  const risks: DerivedRisk[] = [];
  for (const [serial, borrows] of bySerial) {
    if (stickPresent(book, serial) !== false) continue;
    const first = firstEnd(borrows);
    const what = `${plural(borrows.length, "CodeMeter borrow")}: ${describeCodeMeterBorrows(borrows)}`;
    if (newcomers.length > 0) {
      risks.push({
        kind: "key-moved",
        serial,
        borrows,
        message:
          `CodeMeter stick ${serial} is gone from this computer and another stick (${newcomers.join(", ")}) is plugged in instead, ` +
          `while the stick holds ${what}. Only stick ${serial}, on this computer, can take these borrows back; a return or expiry ` +
          "elsewhere leaves a Borrow Dummy.",
        advice:
          `Put stick ${serial} back into this computer${first === null ? "" : ` before ${formatTime(first)}, the first expiry`}, and leave ` +
          `it there ${untilText(borrows)}. Do not move a stick that holds borrows to another computer.`,
      });
    } else {
      risks.push({
        kind: "key-unplugged",
        serial,
        borrows,
        message:
          `CodeMeter stick ${serial} is not plugged in, and it holds ${what}. CodeMeter can take a borrow back only into the ` +
          "stick it was borrowed from; a return or an expiry while the stick is away leaves a Borrow Dummy.",
        advice:
          `Plug stick ${serial} back into this same computer — not another one —${first === null ? "" : ` before ${formatTime(first)}, the first expiry,`} ` +
          `and leave it there ${untilText(borrows)}.`,
      });
    }
  }
  return risks;
}

// ---- host --------------------------------------------------------------------------------

type HostPart = "ips" | "hostname" | "machineId";

const HOST_PARTS: readonly { part: HostPart; kind: CodeMeterRiskKind; what: string; undo: string }[] = [
  {
    part: "ips",
    kind: "host-ip-changed",
    what: "IP address",
    undo: "Change the IP address back (CodeMeter expects a fixed IP address and DNS name, and no VPN)",
  },
  { part: "hostname", kind: "host-hostname-changed", what: "hostname", undo: "Change the hostname back" },
  {
    part: "machineId",
    kind: "host-machine-id-changed",
    what: "machine id",
    undo: "Put the original system back (the machine id changes when the operating system is reinstalled or cloned)",
  },
];

function partText(host: HostSnapshot, part: HostPart): string {
  return part === "ips" ? [...host.ips].sort().join(", ") || "none" : host[part];
}

function sameHostPart(a: HostSnapshot, b: HostSnapshot, part: HostPart): boolean {
  return partText(a, part) === partText(b, part);
}

function hostRisks(now: HostSnapshot | null, held: readonly BorrowObservation[]): DerivedRisk[] {
  if (now === null) return [];
  const risks: DerivedRisk[] = [];
  for (const { part, kind, what, undo } of HOST_PARTS) {
    const changed = held.filter((borrow) => borrow.host !== null && !sameHostPart(borrow.host, now, part));
    if (changed.length === 0) continue;
    const before = changed[0]?.host;
    if (before === undefined || before === null) continue;
    risks.push({
      kind,
      borrows: changed,
      message:
        `This server's ${what} changed (was ${partText(before, part)}, now ${partText(now, part)}) while ${plural(changed.length, "CodeMeter borrow")} ` +
        `made on it ${isAre(changed.length)} out: ${describeCodeMeterBorrows(changed)}. CodeMeter may refuse their return on the changed ` +
        "server and turn them into Borrow Dummies.",
      advice: `${undo}, and keep it ${untilText(changed)}. keybridge cannot move CodeMeter borrows to a new host identity.`,
    });
  }
  return risks;
}

// ---- runtime and service -------------------------------------------------------------------

function runtimeRisks(book: BorrowBook, held: readonly BorrowObservation[]): DerivedRisk[] {
  const episode = book.facts.episode;
  const risks: DerivedRisk[] = [];
  const what = `${plural(held.length, "CodeMeter borrow")} ${isAre(held.length)} out: ${describeCodeMeterBorrows(held)}`;
  const present = book.runtimePresent();
  if (episode.runtimePresent === true && present === false) {
    const version = episode.runtimeVersion === null ? "" : ` ${episode.runtimeVersion}`;
    risks.push({
      kind: "driver-removed",
      borrows: held,
      message:
        `The CodeMeter runtime${version} was removed (cmu and the runtime are gone) while ${what}. Uninstalling it can delete ` +
        "its configuration, which holds CodeMeter's own copy of each borrow.",
      advice:
        `Reinstall the same runtime version${version} without removing its configuration, leave Server.ini (or the registry key) ` +
        `as it is, and check that its Borrow sections are intact (keybridge shows them). Do nothing else to it ${untilText(held)}.`,
    });
    return risks;
  }
  const version = book.runtimeVersion();
  if (episode.runtimeVersion !== null && version !== null && version !== episode.runtimeVersion) {
    risks.push({
      kind: "driver-changed",
      borrows: held,
      message:
        `The CodeMeter runtime changed from version ${episode.runtimeVersion} to ${version} while ${what}. A new main version ` +
        "may not read the borrow data the old one wrote, and each borrow it cannot re-list becomes a Borrow Dummy.",
      advice:
        `If this was not meant, reinstall version ${episode.runtimeVersion}. Otherwise, keybridge reports every borrow the new ` +
        `version fails to re-list at its next start (borrow-missing). Next time, wait ${untilText(held)} before upgrading.`,
    });
  }
  return risks;
}

function serviceRisk(book: BorrowBook, held: readonly BorrowObservation[]): DerivedRisk | undefined {
  const what = `${plural(held.length, "CodeMeter borrow")} ${isAre(held.length)} out: ${describeCodeMeterBorrows(held)}`;
  const service = book.facts.service;
  if (service !== null && !service.running) {
    return {
      kind: "service-stopped",
      borrows: held,
      since: service.at,
      message:
        `The CodeMeter service is not running (since ${formatTime(service.at)}, ${service.via === "cmu" ? "says cmu" : "says the tracking log"}) while ${what}. ` +
        "Nothing can be returned while it is stopped, and when it starts it must re-list every borrow from its configuration.",
      advice:
        "Start the CodeMeter service again without changing anything else (no upgrade, no new configuration); keybridge then checks " +
        "that it re-lists every borrow.",
    };
  }
  const relisting = book.relistOpen().filter((window) => window.expected.length > 0);
  if (relisting.length === 0) return undefined;
  const start = Math.max(...relisting.map((window) => window.start));
  const expected = relisting.reduce((sum, window) => sum + window.expected.length, 0);
  const relisted = relisting.reduce(
    (sum, window) => sum + window.expected.filter((key) => window.relisted.includes(key)).length,
    0,
  );
  return {
    kind: "service-stopped",
    borrows: held,
    since: start,
    message:
      `The CodeMeter service restarted at ${formatTime(start)} while ${what}. keybridge is reading the list of borrows it ` +
      `writes at a start: ${relisted} of ${expected} re-listed so far.`,
    advice:
      "Wait for the re-listing to end (about two minutes); a borrow it leaves out is reported as borrow-missing. Do not restart " +
      `the service again ${untilText(held)}.`,
  };
}

// ---- configuration ---------------------------------------------------------------------------

function registryRisk(book: BorrowBook, held: readonly BorrowObservation[]): DerivedRisk | undefined {
  const episode = book.facts.episode;
  const reading = book.live.config;
  const what = `${plural(held.length, "CodeMeter borrow")} appear to be out: ${describeCodeMeterBorrows(held)}`;
  const restore =
    "Restore it from a backup made while the borrows were out before the CodeMeter service restarts (it reads its configuration only " +
    "at start), and do not restart the service until then.";
  const noReturns =
    "CodeMeter logs no returns: if every one of these borrows was returned early, this is harmless and clears at the next server start.";
  if (reading?.kind === "missing" && episode.configSeen) {
    return {
      kind: "registry-lost",
      borrows: held,
      message:
        `CodeMeter's server configuration (${reading.where}) is gone while ${what}. It holds CodeMeter's own copy of each borrow ` +
        "(the Borrow sections); without it, a return or an expiry leaves a Borrow Dummy.",
      advice: restore,
    };
  }
  if (reading?.kind !== "ok") return undefined;
  const lost = episode.sectionsWithValues.filter((name: BorrowSectionName) => reading.config.borrow[name].values === 0);
  if (lost.length === 0) return undefined;
  const described = lost
    .map((name) => `[${name}] ${reading.config.borrow[name].present ? "was emptied" : "disappeared"}`)
    .join(", ");
  return {
    kind: "registry-lost",
    borrows: held,
    message:
      `In CodeMeter's server configuration (${reading.config.where}), ${described} while ${what}. These sections hold ` +
      `CodeMeter's own copy of each borrow; without it, a return or an expiry leaves a Borrow Dummy. ${noReturns}`,
    advice: restore,
  };
}

// ---- clock and maintenance ----------------------------------------------------------------

function clockRisk(book: BorrowBook, held: readonly BorrowObservation[]): DerivedRisk | undefined {
  const { clockSince, clockNetMs } = book.facts.episode;
  if (clockSince === null) return undefined;
  const direction = clockNetMs > 0 ? "forward" : "backward";
  return {
    kind: "clock-jump",
    borrows: held,
    since: clockSince,
    message:
      `The system clock jumped ${direction} by ${Math.round(Math.abs(clockNetMs) / 60_000)} minutes while ${plural(held.length, "CodeMeter borrow")} ` +
      `${isAre(held.length)} out: ${describeCodeMeterBorrows(held)}. CodeMeter refuses borrow operations when the times of client ` +
      "and server differ too much, and its borrow periods run on the clock.",
    advice: `Set the clock right (NTP); never change the time to end a borrow early. Keep it steady ${untilText(held)}.`,
  };
}

/** "Maximum Borrow Duration" that makes a borrow made at `now` end by `at`; null once the window has begun. */
export function maximumBorrowMinutes(at: number, now: number): number | null {
  const minutes = Math.floor((at - now) / 60_000);
  return minutes >= 1 ? minutes : null;
}

export function borrowsEndingAfter(held: readonly BorrowObservation[], at: number): BorrowObservation[] {
  return held.filter((borrow) => borrow.expiresAt === null || borrow.expiresAt > at).sort(byExpiry);
}

function maintenanceRisk(
  plan: MaintenanceWindow | null,
  held: readonly BorrowObservation[],
  now: number,
): DerivedRisk | undefined {
  if (plan === null) return undefined;
  if ((plan.until !== null && now >= plan.until) || now < plan.at - MAINTENANCE_LEAD_MS) return undefined;
  const inTheWay = borrowsEndingAfter(held, plan.at);
  if (inTheWay.length === 0) return undefined;
  const what = plan.action === null ? "The maintenance" : `The maintenance (${plan.action})`;
  const when = now >= plan.at ? `that started ${formatTime(plan.at)}` : `planned for ${formatTime(plan.at)}`;
  const minutes = maximumBorrowMinutes(plan.at, now);
  const setting =
    minutes === null
      ? ""
      : ` So that no new borrow reaches past it, set "Maximum Borrow Duration" in CodeMeter WebAdmin to ${minutes} minutes now, and lower it as the window nears (keybridge's maintenance advice gives the figure of the moment).`;
  return {
    kind: "maintenance-blocked",
    borrows: inTheWay,
    message:
      `${what} ${when} would turn ${plural(inTheWay.length, "CodeMeter borrow")} into Borrow Dummies: ${describeCodeMeterBorrows(inTheWay)} ` +
      `${inTheWay.length === 1 ? "ends" : "end"} after it. keybridge cannot shorten CodeMeter borrows.`,
    advice: `Ask for ${inTheWay.length === 1 ? "it" : "them"} back before ${formatTime(plan.at)}, or move the window ${untilTextAfter(inTheWay)}.${setting}`,
  };
}

function untilTextAfter(borrows: readonly BorrowObservation[]): string {
  const text = untilText(borrows);
  return text.startsWith("until ") ? `past ${text.slice(6)}` : "until they are returned";
}

import { borrowKey } from "../vocabulary/index.js";
import type { PreflightAction } from "./actions.js";
import { isPreflightAction } from "./actions.js";
import { UnknownPreflightActionError } from "./errors.js";
import { capitalize, describeBorrow, formatTime } from "./format.js";
import type { DummyInfo, ReconcileInput, ReconcileReport } from "./types.js";

export interface PreflightBorrow {
  serial: string;
  id: number;
  product: number;
  client: string;
  issuedAt: number;
  expiresAt: number;
  /** "returning" while a return is in progress. */
  state: "active" | "returning";
}

export interface PreflightState {
  now: number;
  /** Borrows still held on a key (dummies excluded). */
  outstanding: PreflightBorrow[];
  dummies: DummyInfo[];
  /** Borrow, return, settle or rebind operations begun and not finished. */
  inFlightOperations: number;
  /** The ledger agrees with the key (no ledger-missing, ledger-changed or ledger-orphan finding). */
  ledgerHealthy: boolean;
  /** When the ledger was last exported; it covers the borrows issued before that. */
  ledgerExportedAt?: number | null;
}

export interface EndangeredBorrow {
  serial: string;
  id: number;
  product: number;
  client: string;
  expiresAt: number;
}

export interface PreflightVerdict {
  action: PreflightAction;
  safe: boolean;
  /** Why it is unsafe, naming the borrows; empty when safe. */
  reasons: string[];
  /** The borrows the action would endanger. */
  borrows: EndangeredBorrow[];
  /** What to do instead, or what to do afterwards. */
  advice: string[];
  /** Facts that do not change the verdict, such as open dummies. */
  info: string[];
}

type Verdict = Omit<PreflightVerdict, "action" | "info" | "borrows"> & { endangered: boolean };

interface Facts {
  borrows: PreflightBorrow[];
  lastExpiry: string;
  firstExpiry: string;
  exportCovers: boolean;
  ledgerHealthy: boolean;
}

const EXPORT_FIRST = "Export the ledger first: keybridge ledger export FILE, and keep the file off this computer.";
const FIX_LEDGER = "The ledger disagrees with the key: run keybridge reconcile --repair first.";

function returnOrWait(f: Facts): string {
  return `Return these borrows first (keybridge return ID), or wait until ${f.lastExpiry}, when the last one expires and keybridge settles it.`;
}

function perBorrow(f: Facts, consequence: string): string[] {
  return f.borrows.map((b) => `${capitalize(describeBorrow(b.serial, b))} ${consequence}.`);
}

/** Actions that change the binding (K7 migrate can carry the borrows over, with the ledger's proof). */
function bindingChange(f: Facts, what: string, after: string): Verdict {
  const advice = [returnOrWait(f), `Or, if you must ${what} now: ${after}`];
  if (!f.ledgerHealthy) advice.push(FIX_LEDGER);
  return {
    safe: false,
    endangered: true,
    reasons: perBorrow(
      f,
      "is bound to this host identity; returning or settling it afterwards would create a borrow dummy",
    ),
    advice,
  };
}

/** Actions that lose the registry; safe with borrows out only when an export holds every tag. */
function registryLoss(f: Facts, consequence: string, after: string[]): Verdict {
  const covered = f.exportCovers && f.ledgerHealthy;
  if (covered) return { safe: true, endangered: false, reasons: [], advice: after };
  const advice = [f.exportCovers ? FIX_LEDGER : EXPORT_FIRST, ...after, returnOrWait(f)];
  return { safe: false, endangered: true, reasons: perBorrow(f, consequence), advice };
}

function judge(action: PreflightAction, f: Facts): Verdict {
  switch (action) {
    case "upgrade-licenses":
      return {
        safe: false,
        endangered: true,
        reasons: perBorrow(f, "would become a borrow dummy (a license update turns every active borrow into one)"),
        advice: [returnOrWait(f), "Then upgrade the licenses (keybridge license-update SERIAL FILE)."],
      };
    case "install-major-version":
      return registryLoss(
        f,
        "must stay returnable across the upgrade, and the new version may not read today's registry",
        ["After installing, run keybridge reconcile and apply its repairs with keybridge reconcile --repair."],
      );
    case "unplug-key":
      return {
        safe: false,
        endangered: true,
        reasons: perBorrow(f, "cannot be returned or settled while the key is unplugged"),
        advice: [
          returnOrWait(f),
          `If you must unplug it briefly, plug it back into this same computer before ${f.firstExpiry}, the first expiry.`,
        ],
      };
    case "move-key":
      return bindingChange(
        f,
        "move the key",
        "run keybridge ledger export FILE here, move the key, then keybridge ledger import FILE and keybridge migrate on the new computer.",
      );
    case "change-ip":
      return bindingChange(
        f,
        "change the IP address",
        "run keybridge migrate right after the change; the ledger holds the proof that rebinds each borrow.",
      );
    case "change-hostname":
      return bindingChange(
        f,
        "change the hostname",
        "run keybridge migrate right after the change; the ledger holds the proof that rebinds each borrow.",
      );
    case "uninstall-driver":
      return registryLoss(f, "loses its registry entry when the driver is uninstalled", [
        "After reinstalling the driver, run keybridge reconcile --repair to restore the registry from the ledger.",
      ]);
    case "reinstall-os":
      return registryLoss(f, "loses its registry entry and its host binding when the OS is reinstalled", [
        "After reinstalling, install keybridge, run keybridge ledger import FILE, then keybridge migrate (the machine id changes).",
      ]);
    case "restart-service":
      if (f.ledgerHealthy) return { safe: true, endangered: false, reasons: [], advice: [] };
      return {
        safe: false,
        endangered: true,
        reasons: perBorrow(f, "is not fully recorded in the ledger, which a restart relies on"),
        advice: [FIX_LEDGER],
      };
  }
}

/** Is `action` safe now? Pure: the caller supplies the state (see `preflightStateFrom`). */
export function preflight(action: PreflightAction, state: PreflightState): PreflightVerdict {
  if (!isPreflightAction(action)) throw new UnknownPreflightActionError(String(action));
  const borrows = [...state.outstanding].sort(
    (a, b) => a.expiresAt - b.expiresAt || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.id - b.id),
  );
  const info = [...state.dummies]
    .filter((d) => d.dummyUntil === null || d.dummyUntil > state.now)
    .sort((a, b) =>
      a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.product - b.product || a.borrowId - b.borrowId,
    )
    .map(
      (d) =>
        `Borrowing of product ${d.product} on key ${d.serial} is blocked until ${formatTime(d.dummyUntil)} by a borrow dummy (borrow ${d.borrowId}); nothing can be done about it.`,
    );

  const reasons: string[] = [];
  const advice: string[] = [];
  let endangered: EndangeredBorrow[] = [];
  let safe = true;

  if (borrows.length > 0) {
    let newest = Number.NEGATIVE_INFINITY;
    for (const b of borrows) newest = Math.max(newest, b.issuedAt);
    const exportedAt = state.ledgerExportedAt ?? null;
    const verdict = judge(action, {
      borrows,
      firstExpiry: formatTime(borrows[0]!.expiresAt),
      lastExpiry: formatTime(Math.max(...borrows.map((b) => b.expiresAt))),
      exportCovers: exportedAt !== null && exportedAt >= newest,
      ledgerHealthy: state.ledgerHealthy,
    });
    safe = verdict.safe;
    reasons.push(...verdict.reasons);
    advice.push(...verdict.advice);
    if (verdict.endangered) {
      advice.push(
        `To do it on a given day without dummies, plan it: keybridge maintenance plan WHEN --action ${action} (every new borrow then ends before it).`,
      );
      endangered = borrows.map(({ serial, id, product, client, expiresAt }) => ({
        serial,
        id,
        product,
        client,
        expiresAt,
      }));
    }
  } else if (action === "restart-service" && !state.ledgerHealthy) {
    // With nothing borrowed a restart is harmless, but say what reconcile found.
    advice.push(FIX_LEDGER);
  }

  if (state.inFlightOperations > 0) {
    safe = false;
    reasons.push(
      `${state.inFlightOperations} borrow operation${state.inFlightOperations === 1 ? " is" : "s are"} in progress.`,
    );
    advice.push("Wait until the operations in progress finish (keybridge events --follow shows them), then ask again.");
  }

  return { action, safe, reasons, borrows: endangered, advice, info };
}

/**
 * Builds the preflight state from the same views reconcile reads: borrows held on readable keys
 * come from the key (the authority), borrows on absent keys from the ledger.
 */
export function preflightStateFrom(
  input: ReconcileInput,
  report: ReconcileReport,
  extra: { inFlightOperations: number; ledgerExportedAt?: number | null },
): PreflightState {
  const outstanding: PreflightBorrow[] = [];
  const seen = new Set<string>();
  const readable = new Set<string>();
  for (const view of input.keys) {
    if (!view.present || view.borrows === undefined || readable.has(view.serial)) continue;
    readable.add(view.serial);
    for (const b of view.borrows) {
      const id = borrowKey(view.serial, b.id);
      if (b.state !== "active" || seen.has(id)) continue;
      seen.add(id);
      const { product, client, issuedAt, expiresAt } = b;
      outstanding.push({ serial: view.serial, id: b.id, product, client, issuedAt, expiresAt, state: "active" });
    }
  }
  for (const row of input.ledger) {
    const id = borrowKey(row.serial, row.id);
    if (readable.has(row.serial) || seen.has(id)) continue;
    if (row.state !== "active" && row.state !== "returning") continue;
    seen.add(id);
    const { serial, product, client, issuedAt, expiresAt, state } = row;
    outstanding.push({ serial, id: row.id, product, client, issuedAt, expiresAt, state });
  }
  const ledgerHealthy =
    report.counts["ledger-missing"] === 0 &&
    report.counts["ledger-changed"] === 0 &&
    report.counts["ledger-orphan"] === 0;
  return {
    now: input.now,
    outstanding,
    dummies: report.dummies,
    inFlightOperations: extra.inFlightOperations,
    ledgerHealthy,
    ledgerExportedAt: extra.ledgerExportedAt ?? null,
  };
}

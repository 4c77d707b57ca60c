import { describe, expect, it } from "vitest";
import { isCodedError } from "../../../src/errors.js";
import type { PreflightAction, PreflightState } from "../../../src/reconcile/index.js";
import {
  isPreflightAction,
  PREFLIGHT_ACTIONS,
  preflight,
  preflightStateFrom,
  reconcile,
} from "../../../src/reconcile/index.js";
import { consistent, DAY, keyBorrow, keyView, ledgerOf, NOW, SERIAL } from "./fixtures.js";

const early = {
  serial: "K-1",
  id: 7,
  product: 1001,
  client: "ws-anna",
  issuedAt: NOW - 3 * DAY,
  expiresAt: NOW + 2 * DAY,
  state: "active" as const,
};
const late = {
  serial: "K-1",
  id: 9,
  product: 2002,
  client: "ws-bob",
  issuedAt: NOW - DAY,
  expiresAt: NOW + 20 * DAY,
  state: "active" as const,
};

function state(over: Partial<PreflightState> = {}): PreflightState {
  return { now: NOW, outstanding: [], dummies: [], inFlightOperations: 0, ledgerHealthy: true, ...over };
}

const withBorrows = state({ outstanding: [late, early] });
const exported = state({ outstanding: [late, early], ledgerExportedAt: NOW - 1000 });

/** Verdict with borrows out, without and with a fresh ledger export; and what the advice must say. */
const table: Array<{ action: PreflightAction; bare: boolean; afterExport: boolean; advice: RegExp }> = [
  {
    action: "upgrade-licenses",
    bare: false,
    afterExport: false,
    advice: /Return these borrows .* wait until 2025-02-04 12:00 UTC/,
  },
  { action: "install-major-version", bare: false, afterExport: true, advice: /Export the ledger first/ },
  { action: "unplug-key", bare: false, afterExport: false, advice: /same computer before 2025-01-17 12:00 UTC/ },
  { action: "move-key", bare: false, afterExport: false, advice: /ledger import FILE and keybridge migrate/ },
  { action: "uninstall-driver", bare: false, afterExport: true, advice: /Export the ledger first/ },
  { action: "reinstall-os", bare: false, afterExport: true, advice: /Export the ledger first/ },
  { action: "change-ip", bare: false, afterExport: false, advice: /keybridge migrate right after the change/ },
  { action: "restart-service", bare: true, afterExport: true, advice: /^$/ },
  { action: "change-hostname", bare: false, afterExport: false, advice: /keybridge migrate right after the change/ },
];

describe("preflight", () => {
  it("has a row for every action", () => {
    expect(table.map((r) => r.action).sort()).toEqual([...PREFLIGHT_ACTIONS].sort());
  });

  it.each(PREFLIGHT_ACTIONS)("%s is safe with nothing borrowed", (action) => {
    const verdict = preflight(action, state());
    expect(verdict).toMatchObject({ action, safe: true, reasons: [], borrows: [] });
  });

  it.each(table)("$action with borrows out: safe=$bare, after a ledger export: safe=$afterExport", (row) => {
    const verdict = preflight(row.action, withBorrows);
    expect(verdict.safe).toBe(row.bare);
    if (!row.bare) {
      // Reasons name each borrow by client, product and expiry, earliest first.
      expect(verdict.reasons).toHaveLength(2);
      expect(verdict.reasons[0]).toMatch(/product 1001 by client "ws-anna" .*expires 2025-01-17 12:00 UTC/);
      expect(verdict.reasons[1]).toMatch(/product 2002 by client "ws-bob"/);
      expect(verdict.borrows.map((b) => b.id)).toEqual([7, 9]);
      expect(verdict.advice.join("\n")).toMatch(row.advice);
    } else {
      expect(verdict.advice.join("\n")).toMatch(row.advice);
    }
    expect(preflight(row.action, exported).safe).toBe(row.afterExport);
  });

  it("an unsafe action with borrows in its way points at a maintenance plan for that action; a safe one does not", () => {
    const unsafe = preflight("upgrade-licenses", withBorrows);
    expect(unsafe.advice.at(-1)).toBe(
      "To do it on a given day without dummies, plan it: keybridge maintenance plan WHEN --action upgrade-licenses (every new borrow then ends before it).",
    );
    expect(preflight("restart-service", withBorrows).advice.join(" ")).not.toContain("maintenance plan");
    expect(preflight("upgrade-licenses", state()).advice.join(" ")).not.toContain("maintenance plan");
  });

  it("an export older than the newest borrow does not cover it", () => {
    const stale = state({ outstanding: [late, early], ledgerExportedAt: late.issuedAt - 1 });
    expect(preflight("reinstall-os", stale).safe).toBe(false);
  });

  it("after a covering export, reinstall-os tells to import the ledger and migrate afterwards", () => {
    const verdict = preflight("reinstall-os", exported);
    expect(verdict.safe).toBe(true);
    expect(verdict.advice.join(" ")).toMatch(/ledger import FILE, then keybridge migrate/);
  });

  it("restart-service is unsafe while operations are in flight or the ledger disagrees with the key", () => {
    const busy = preflight("restart-service", state({ outstanding: [early], inFlightOperations: 2 }));
    expect(busy.safe).toBe(false);
    expect(busy.reasons.join(" ")).toMatch(/2 borrow operations are in progress/);
    const unhealthy = preflight("restart-service", state({ outstanding: [early], ledgerHealthy: false }));
    expect(unhealthy.safe).toBe(false);
    expect(unhealthy.advice.join(" ")).toMatch(/reconcile --repair/);
  });

  it("in-flight operations make even an empty server wait", () => {
    expect(preflight("change-ip", state({ inFlightOperations: 1 })).safe).toBe(false);
  });

  it("lists open dummies as information, not as a reason", () => {
    const verdict = preflight(
      "change-ip",
      state({
        dummies: [
          { serial: SERIAL, product: 1001, borrowId: 3, dummyUntil: NOW + 5 * DAY },
          { serial: SERIAL, product: 1001, borrowId: 4, dummyUntil: NOW - DAY },
        ],
      }),
    );
    expect(verdict.safe).toBe(true);
    expect(verdict.info).toEqual([expect.stringMatching(/product 1001 .* blocked until 2025-01-20 12:00 UTC/)]);
  });

  it("rejects an unknown action with a coded error", () => {
    expect(isPreflightAction("format-disk")).toBe(false);
    expect(isPreflightAction("change-ip")).toBe(true);
    let caught: unknown;
    try {
      preflight("format-disk" as PreflightAction, state());
    } catch (error) {
      caught = error;
    }
    expect(isCodedError(caught) && caught.code).toBe("UNKNOWN_PREFLIGHT_ACTION");
  });
});

describe("preflightStateFrom", () => {
  it("takes borrows from a readable key and from the ledger of an absent one, and reads ledger health", () => {
    const onKey = keyBorrow(1);
    const input = consistent([onKey, keyBorrow(2, { state: "dummy", dummyUntil: NOW + DAY })]);
    input.keys.push(keyView(undefined, { serial: "K-2" }));
    input.ledger.push(ledgerOf(keyBorrow(5), {}, "K-2"), ledgerOf(keyBorrow(6), { state: "settled" }, "K-2"));
    const s = preflightStateFrom(input, reconcile(input), { inFlightOperations: 0 });
    expect(s.outstanding.map((b) => `${b.serial}/${b.id}`)).toEqual(["K-1/1", "K-2/5"]);
    expect(s.dummies).toHaveLength(1);
    expect(s.ledgerHealthy).toBe(true);

    const gap = consistent([onKey], { ledger: [] });
    expect(preflightStateFrom(gap, reconcile(gap), { inFlightOperations: 0 }).ledgerHealthy).toBe(false);
  });
});

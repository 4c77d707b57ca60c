import { describe, expect, it } from "vitest";
import type { FindingKind, ReconcileInput, RepairAction, Severity } from "../../../src/reconcile/index.js";
import { describeKind, FINDING_KINDS, reconcile } from "../../../src/reconcile/index.js";
import {
  consistent,
  DAY,
  HOST,
  HOUR,
  keyBorrow,
  keyView,
  ledgerOf,
  NOW,
  OTHER_HOST,
  opIdOf,
  registryOf,
  SERIAL,
  tagOf,
} from "./fixtures.js";

const b1 = keyBorrow(1);

interface Case {
  name: string;
  input: ReconcileInput;
  kind: FindingKind;
  severity: Severity;
  action: RepairAction;
  safe: boolean;
  /** Words the admin must read in the message. */
  says: RegExp;
}

const cases: Case[] = [
  {
    name: "all three views agree",
    input: consistent([b1]),
    kind: "healthy",
    severity: "info",
    action: "none",
    safe: true,
    says: /On key K-1, borrow 1 is consistent in the key, the registry and the ledger/,
  },
  {
    name: "registry lost the entry",
    input: consistent([b1], { registry: { readable: true, borrows: [] } }),
    kind: "registry-missing",
    severity: "warning",
    action: "restore-registry",
    safe: true,
    says: /registry entry of borrow 1 of product 1001 by client "ws-1".*missing/,
  },
  {
    name: "registry entry has another client",
    input: consistent([b1], { registry: { readable: true, borrows: [registryOf(b1, { client: "someone" })] } }),
    kind: "registry-changed",
    severity: "warning",
    action: "restore-registry",
    safe: true,
    says: /differs from the key in client/,
  },
  {
    name: "registry lists a borrow the key and ledger do not know",
    input: consistent([], { registry: { readable: true, borrows: [registryOf(b1)] } }),
    kind: "registry-extra",
    severity: "info",
    action: "remove-registry-entry",
    safe: true,
    says: /registry lists borrow 1 .* which the key does not hold and the ledger does not know/,
  },
  {
    name: "ledger lost the row, the registry has the tag",
    input: consistent([b1], { ledger: [] }),
    kind: "ledger-missing",
    severity: "warning",
    action: "rebuild-ledger",
    safe: true,
    says: /missing from the ledger; the row can be rebuilt from the key and the registry/,
  },
  {
    name: "ledger and registry lost it, tags are derived from the server secret",
    input: consistent([b1], {
      ledger: [],
      registry: { readable: true, borrows: [] },
      derivedTags: { [opIdOf(1)]: tagOf(1) },
    }),
    kind: "ledger-missing",
    severity: "warning",
    action: "rebuild-ledger",
    safe: true,
    says: /derived from the server secret/,
  },
  {
    name: "ledger and registry lost it and the tag is random",
    input: consistent([b1], { ledger: [], registry: { readable: true, borrows: [] } }),
    kind: "ledger-missing",
    severity: "critical",
    action: "none",
    safe: false,
    says: /cannot be recovered.*create a borrow dummy/,
  },
  {
    name: "ledger row carries another opId",
    input: consistent([b1], { ledger: [ledgerOf(b1, { opId: opIdOf(99) })] }),
    kind: "ledger-changed",
    severity: "warning",
    action: "rebuild-ledger",
    safe: true,
    says: /ledger row of borrow 1 .* differs from the key in operation id/,
  },
  {
    name: "the key settled a borrow the ledger still holds",
    input: consistent([], { ledger: [ledgerOf(b1, { state: "returning" })] }),
    kind: "ledger-orphan",
    severity: "info",
    action: "mark-ledger-settled",
    safe: true,
    says: /outstanding in the ledger but the key no longer holds it/,
  },
  {
    name: "the host identity changed since the borrow",
    input: consistent([b1], { host: { binding: OTHER_HOST } }),
    kind: "binding-mismatch",
    severity: "critical",
    action: "migrate",
    safe: true,
    says: /IP address, hostname or machine id changed/,
  },
  {
    name: "the key was moved here from another computer",
    input: consistent([b1], { host: { binding: OTHER_HOST, keyLastBinding: { [SERIAL]: HOST } } }),
    kind: "binding-mismatch",
    severity: "critical",
    action: "migrate",
    safe: true,
    says: /key was moved here from another computer/,
  },
  {
    name: "expired, settle window still wide open",
    input: consistent([keyBorrow(1, { expiresAt: NOW - HOUR })]),
    kind: "expired-unsettled",
    severity: "warning",
    action: "settle-now",
    safe: true,
    says: /has expired and is not settled.*settled by 2025-01-16 11:00 UTC/,
  },
  {
    name: "registry holds another tag",
    input: consistent([b1], { registry: { readable: true, borrows: [registryOf(b1, { tag: "00".repeat(16) })] } }),
    kind: "tag-mismatch",
    severity: "warning",
    action: "restore-registry",
    safe: true,
    says: /another tag .* than the ledger/,
  },
  {
    name: "the key holds a dummy",
    input: consistent([keyBorrow(1, { state: "dummy", dummyUntil: NOW + 10 * DAY })]),
    kind: "dummy",
    severity: "warning",
    action: "none",
    safe: true,
    says: /nothing can be done: borrowing of product 1001 is blocked until 2025-01-25 12:00 UTC/,
  },
  {
    name: "the key is unplugged with a borrow out",
    input: consistent([b1], { keys: [keyView(undefined)] }),
    kind: "key-absent",
    severity: "warning",
    action: "wait",
    safe: false,
    says: /Key K-1 is not present, so borrow 1 .* cannot be returned until the key is back/,
  },
];

describe("reconcile: one finding kind per situation", () => {
  it.each(cases)("$name → $kind", ({ input, kind, severity, action, safe, says }) => {
    const report = reconcile(input);
    const f = report.findings.find((x) => x.kind === kind);
    expect(f, JSON.stringify(report.findings, null, 1)).toBeDefined();
    expect(f!.severity).toBe(severity);
    expect(f!.repair.action).toBe(action);
    expect(f!.repair.safe).toBe(safe);
    expect(f!.message).toMatch(says);
    expect(f!.serial).toBe(SERIAL);
    expect(f!.borrowId ?? f!.borrowIds?.[0]).toBe(1);
    expect(report.counts[kind]).toBeGreaterThanOrEqual(1);
  });

  it("covers every finding kind", () => {
    const covered = new Set(cases.map((c) => c.kind));
    expect(FINDING_KINDS.filter((k) => !covered.has(k))).toEqual([]);
  });

  it("a healthy world reports one healthy finding per key, listing its borrows, and nothing blocked", () => {
    const report = reconcile(consistent([keyBorrow(3, { product: 7 }), b1, keyBorrow(2)]));
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({
      kind: "healthy",
      severity: "info",
      serial: SERIAL,
      borrowIds: [1, 2, 3],
    });
    expect(report.findings[0]!.message).toMatch(/all 3 borrows are consistent/);
    expect(report.healthyBorrows).toBe(3);
    expect(report.worst).toBe("info");
    expect(report.dummies).toEqual([]);
    expect(report.blockedProducts).toEqual([]);
  });
});

describe("reconcile: details a user relies on", () => {
  it("reports a dummy's product as blocked until its clear date, the latest dummy deciding", () => {
    const report = reconcile(
      consistent([
        keyBorrow(1, { state: "dummy", dummyUntil: NOW + 3 * DAY }),
        keyBorrow(2, { state: "dummy", dummyUntil: NOW + 9 * DAY }),
        keyBorrow(3, { product: 2002 }),
      ]),
    );
    expect(report.dummies).toEqual([
      { serial: SERIAL, product: 1001, borrowId: 1, dummyUntil: NOW + 3 * DAY },
      { serial: SERIAL, product: 1001, borrowId: 2, dummyUntil: NOW + 9 * DAY },
    ]);
    expect(report.blockedProducts).toEqual([{ serial: SERIAL, product: 1001, until: NOW + 9 * DAY }]);
  });

  it("keeps reporting a ledger dummy while its key is absent, until its clear date", () => {
    const dummyRow = ledgerOf(b1, { state: "dummy", dummyUntil: NOW + DAY });
    const open = reconcile(consistent([], { keys: [keyView(undefined)], ledger: [dummyRow] }));
    expect(open.blockedProducts).toEqual([{ serial: SERIAL, product: 1001, until: NOW + DAY }]);
    const cleared = reconcile(consistent([], { keys: [keyView(undefined)], ledger: [dummyRow], now: NOW + 2 * DAY }));
    expect(cleared.blockedProducts).toEqual([]);
    expect(cleared.findings[0]!.severity).toBe("info");
  });

  it("turns an expired borrow critical when the settle window is nearly over", () => {
    const expired = keyBorrow(1, { expiresAt: NOW - 20 * HOUR });
    const f = reconcile(consistent([expired])).findings.find((x) => x.kind === "expired-unsettled")!;
    expect(f.severity).toBe("critical");
    expect(f.repair.safe).toBe(true);
  });

  it("counts expiry in key time when the key reports its clock", () => {
    const report = reconcile(
      consistent([keyBorrow(1, { expiresAt: NOW + HOUR })], {
        keys: [keyView([keyBorrow(1, { expiresAt: NOW + HOUR })], { keyTimeMs: NOW + 2 * HOUR })],
      }),
    );
    expect(report.findings.map((f) => f.kind)).toContain("expired-unsettled");
  });

  it("never settles an expired borrow bound to another host: migrate first", () => {
    const expired = keyBorrow(1, { expiresAt: NOW - HOUR });
    const report = reconcile(consistent([expired], { host: { binding: OTHER_HOST } }));
    const settle = report.findings.find((f) => f.kind === "expired-unsettled")!;
    expect(settle.repair.safe).toBe(false);
    expect(settle.repair.description).toMatch(/migrate first/);
    expect(settle.severity).toBe("critical");
    expect(report.findings.find((f) => f.kind === "binding-mismatch")!.repair.safe).toBe(true);
  });

  it("does not migrate automatically while the ledger lacks the tag", () => {
    const report = reconcile(consistent([b1], { ledger: [], host: { binding: OTHER_HOST } }));
    const migrate = report.findings.find((f) => f.kind === "binding-mismatch")!;
    expect(migrate.repair.safe).toBe(false);
  });

  it("names the borrow's primary finding by severity, the registry issue accompanying it", () => {
    const report = reconcile(
      consistent([b1], { host: { binding: OTHER_HOST }, registry: { readable: true, borrows: [] } }),
    );
    expect(report.findings.map((f) => [f.kind, f.primary])).toEqual([
      ["binding-mismatch", true],
      ["registry-missing", false],
    ]);
  });

  it("marks an expired key-absent borrow critical and tells to plug the key back before the window ends", () => {
    const expired = keyBorrow(1, { expiresAt: NOW - HOUR });
    const f = reconcile(consistent([expired], { keys: [keyView(undefined)] })).findings[0]!;
    expect(f.kind).toBe("key-absent");
    expect(f.severity).toBe("critical");
    expect(f.message).toMatch(/plug the key back in before 2025-01-16 11:00 UTC/);
  });

  it("says 'cannot be read' for a present key whose records could not be listed", () => {
    const f = reconcile(consistent([b1], { keys: [{ serial: SERIAL, present: true, settleWindowMs: DAY }] }))
      .findings[0]!;
    expect(f.kind).toBe("key-absent");
    expect(f.message).toMatch(/cannot be read/);
  });

  it("keeps a registry-only borrow of an absent key and never removes it", () => {
    const report = reconcile(
      consistent([], { keys: [keyView(undefined)], registry: { readable: true, borrows: [registryOf(b1)] } }),
    );
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]!.kind).toBe("key-absent");
    expect(report.findings[0]!.repair).toMatchObject({ action: "wait", safe: false });
  });

  it("does not remove the registry entry of a settled borrow while the key cannot confirm it", () => {
    const report = reconcile(
      consistent([], {
        keys: [keyView(undefined)],
        registry: { readable: true, borrows: [registryOf(b1)] },
        ledger: [ledgerOf(b1, { state: "settled" })],
      }),
    );
    expect(report.findings[0]).toMatchObject({ kind: "registry-extra", repair: { action: "wait", safe: false } });
  });

  it("rewrites an unreadable registry from the ledger only when nothing could be lost", () => {
    const unreadable = { readable: false as const, reason: "file truncated" };
    const ok = reconcile(consistent([b1], { registry: unreadable }));
    expect(ok.findings[0]).toMatchObject({
      kind: "registry-missing",
      repair: { action: "restore-registry", safe: true },
    });
    expect(ok.findings[0]!.message).toMatch(/file truncated/);
    expect(ok.findings[1]!.kind).toBe("healthy");
    expect(ok.findings[1]!.borrowIds).toEqual([1]);

    const ledgerGap = reconcile(consistent([b1], { registry: unreadable, ledger: [] }));
    expect(ledgerGap.findings[0]).toMatchObject({ kind: "registry-missing", repair: { safe: false } });

    const absentKey = reconcile(consistent([b1], { registry: unreadable, keys: [keyView(undefined)] }));
    expect(absentKey.findings[0]).toMatchObject({ kind: "registry-missing", repair: { safe: false } });
  });

  it("treats a ledger row still outstanding before its expiry, with no key record, as a warning", () => {
    const f = reconcile(consistent([], { ledger: [ledgerOf(b1)] })).findings[0]!;
    expect(f).toMatchObject({ kind: "ledger-orphan", severity: "warning" });
  });

  it("ignores history rows whose borrow is gone everywhere", () => {
    const report = reconcile(consistent([], { ledger: [ledgerOf(b1, { state: "returned" })] }));
    expect(report.findings).toEqual([]);
  });

  it("rebuilds the ledger from a history row the key contradicts", () => {
    const report = reconcile(consistent([b1], { ledger: [ledgerOf(b1, { state: "rolled-back" })] }));
    expect(report.findings[0]).toMatchObject({
      kind: "ledger-missing",
      repair: { action: "rebuild-ledger", safe: true },
    });
  });
});

describe("describeKind", () => {
  it.each(FINDING_KINDS)("explains %s with a meaning and what to do", (kind) => {
    const d = describeKind(kind);
    expect(d.kind).toBe(kind);
    expect(d.title.length).toBeGreaterThan(3);
    expect(d.meaning.length).toBeGreaterThan(30);
    expect(d.whatToDo.length).toBeGreaterThan(10);
  });
});

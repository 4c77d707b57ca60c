import fc from "fast-check";
import { Subject } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import type { BridgeEvent, BridgeEventType, RiskKind, RiskView } from "../../../src/bridge/api.js";
import { type RegistryHealth, RiskEngine } from "../../../src/bridge/guard/index.js";
import type { ClockJumpEvent, HostChangedEvent, HostIdentity } from "../../../src/host/index.js";
import type { BorrowRow } from "../../../src/ledger/index.js";
import { borrowRow, DAY, HERE, T0 } from "./rows.js";

const OLD = HERE;
const NEW = "bb".repeat(32);

/** Every row shares one opId here; the engine never reads it. */
const row = (id: number, patch: Partial<BorrowRow> = {}): BorrowRow =>
  borrowRow(id, { opId: "01".repeat(16), binding: OLD, ...patch });

const identity: HostIdentity = {
  ips: ["192.0.2.10"],
  hostname: "srv",
  machineId: "m1",
  osInstallId: "o1",
  driver: { codeMeterRuntime: "8.20" },
  runtime: { node: "20", platform: "linux", arch: "x64", osRelease: "6" },
};

function hostChange(changes: HostChangedEvent["changes"], bindingChanged = true): HostChangedEvent {
  return { type: "host.changed", at: new Date(T0), before: identity, after: identity, changes, bindingChanged };
}

class World {
  readonly events$ = new Subject<BridgeEvent>();
  readonly hostChanges$ = new Subject<HostChangedEvent>();
  readonly clockJumps$ = new Subject<ClockJumpEvent>();
  readonly registry$ = new Subject<{ health: RegistryHealth; detail?: string }>();
  rows: BorrowRow[] = [row(1)];
  binding = OLD;
  present = new Set(["KB-1"]);
  keyTime = T0 + DAY;
  exportedAt: number | null = null;
  readonly emitted: BridgeEvent[] = [];
  readonly engine: RiskEngine;

  constructor(options: { ledgerRebuilt?: boolean } = {}) {
    this.engine = new RiskEngine(
      {
        events$: this.events$,
        hostChanges$: this.hostChanges$,
        clockJumps$: this.clockJumps$,
        registry$: this.registry$,
        outstanding: () => this.rows,
        currentBinding: () => this.binding,
        isPresent: (serial) => this.present.has(serial),
        keyNow: () => this.keyTime,
        settleWindowMs: () => DAY,
        ledgerExportedAt: () => this.exportedAt,
        emit: (type: BridgeEventType, message, extra) =>
          this.emitted.push({ type, message, at: new Date().toISOString(), ...extra }),
      },
      { pollMs: 60_000, ...options, now: () => T0 },
    );
    this.engine.start();
  }

  bus(type: BridgeEventType, serial?: string, details?: Record<string, unknown>): void {
    this.events$.next({
      type,
      at: new Date().toISOString(),
      message: type,
      ...(serial ? { serial } : {}),
      ...(details ? { details } : {}),
    });
  }

  kinds(): RiskKind[] {
    return this.engine
      .risks()
      .map((risk) => risk.kind)
      .sort();
  }

  raised(kind: RiskKind): RiskView | undefined {
    return this.emitted.find((e) => e.type === "risk.raised" && e.risk?.kind === kind)?.risk;
  }

  cleared(kind: RiskKind): boolean {
    return this.emitted.some((e) => e.type === "risk.cleared" && e.risk?.kind === kind);
  }
}

let world: World;
afterEach(() => world?.engine.close());

describe("key presence", () => {
  it("raises key-unplugged at once on detach, naming the borrow, and clears it on attach", () => {
    world = new World();
    expect(world.kinds()).toEqual([]);
    world.present.delete("KB-1");
    world.bus("key.detached", "KB-1");
    const risk = world.raised("key-unplugged");
    expect(risk).toBeDefined();
    expect(risk?.serial).toBe("KB-1");
    expect(risk?.borrowIds).toEqual([1]);
    expect(risk?.message).toContain('client "ws-1"');
    expect(risk?.message).toContain("product 1001");
    expect(risk?.message).toContain("2026-02-09");
    expect(risk?.advice).toMatch(/Plug key KB-1 back/);
    expect(risk?.severity).toBe("critical");
    world.present.add("KB-1");
    world.bus("key.attached", "KB-1");
    expect(world.cleared("key-unplugged")).toBe(true);
    expect(world.kinds()).toEqual([]);
  });

  it("raises nothing for an unplugged key with no borrow out", () => {
    world = new World();
    world.rows = [];
    world.present.delete("KB-1");
    world.bus("key.detached", "KB-1");
    expect(world.kinds()).toEqual([]);
  });

  it("clears the risk when the last borrow is settled even while the key stays away", () => {
    world = new World();
    world.present.delete("KB-1");
    world.bus("key.detached", "KB-1");
    world.rows = [];
    world.bus("borrow.settled", "KB-1");
    expect(world.cleared("key-unplugged")).toBe(true);
  });

  it("raises key-counterfeit without borrows, and clears it when the genuine key attaches", () => {
    world = new World();
    world.rows = [];
    world.bus("key.counterfeit", "KB-9");
    expect(world.raised("key-counterfeit")?.serial).toBe("KB-9");
    world.bus("key.attached", "KB-9", { kind: "keybridge" });
    expect(world.cleared("key-counterfeit")).toBe(true);
  });

  it("raises key-moved for borrows bound elsewhere, and clears it once they are rebound", () => {
    world = new World();
    world.binding = NEW;
    world.bus("key.moved", "KB-1");
    expect(world.kinds()).toEqual(["key-moved"]);
    expect(world.raised("key-moved")?.advice).toContain("keybridge migrate");
    world.rows = [row(1, { binding: NEW })];
    world.bus("migration.done");
    expect(world.cleared("key-moved")).toBe(true);
    expect(world.kinds()).toEqual([]);
  });
});

describe("host identity", () => {
  it.each([
    ["ips", "host-ip-changed"],
    ["hostname", "host-hostname-changed"],
    ["machineId", "host-machine-id-changed"],
  ] as const)("a %s change with borrows bound to the old identity raises %s", (component, kind) => {
    world = new World();
    world.binding = NEW;
    world.hostChanges$.next(hostChange([{ component, before: "a", after: "b" }]));
    expect(world.kinds()).toEqual([kind]);
    expect(world.raised(kind)?.message).toContain('client "ws-1"');
    expect(world.raised(kind)?.advice).toContain("keybridge migrate");
    // Changed back: the borrows match again.
    world.binding = OLD;
    world.hostChanges$.next(hostChange([{ component, before: "b", after: "a" }]));
    expect(world.cleared(kind)).toBe(true);
  });

  it("clears a host risk once the borrows are migrated to the new identity", () => {
    world = new World();
    world.binding = NEW;
    world.hostChanges$.next(hostChange([{ component: "ips", before: ["192.0.2.10"], after: ["192.0.2.99"] }]));
    expect(world.kinds()).toEqual(["host-ip-changed"]);
    world.rows = [row(1, { binding: NEW })];
    world.bus("migration.done");
    expect(world.kinds()).toEqual([]);
  });

  it("reports a reinstall once, as os-reinstalled", () => {
    world = new World();
    world.binding = NEW;
    world.hostChanges$.next(
      hostChange([
        { component: "machineId", before: "m1", after: "m2" },
        { component: "osInstallId", before: "o1", after: "o2" },
      ]),
    );
    expect(world.kinds()).toEqual(["os-reinstalled"]);
  });

  it("ignores a change of a component borrows are not bound to", () => {
    world = new World();
    world.hostChanges$.next(hostChange([{ component: "hostname", before: "a", after: "b" }], false));
    expect(world.kinds()).toEqual([]);
  });

  it("raises driver-removed on uninstall and clears it on reinstall", () => {
    world = new World();
    world.hostChanges$.next(
      hostChange([{ component: "driver", before: { codeMeterRuntime: "8.20" }, after: {} }], false),
    );
    expect(world.kinds()).toEqual(["driver-removed"]);
    world.hostChanges$.next(
      hostChange([{ component: "driver", before: {}, after: { codeMeterRuntime: "8.20" } }], false),
    );
    expect(world.cleared("driver-removed")).toBe(true);
  });

  it("raises driver-changed on a new version and clears it after a reconcile repair", () => {
    world = new World();
    world.hostChanges$.next(
      hostChange([{ component: "driver", before: { codeMeterRuntime: "8.20" }, after: { codeMeterRuntime: "9.0" } }]),
    );
    expect(world.kinds()).toEqual(["driver-changed"]);
    world.bus("reconcile.repaired");
    expect(world.kinds()).toEqual([]);
  });
});

describe("registry, ledger, clock", () => {
  it("raises registry-lost and clears it when the mirror repairs the registry", () => {
    world = new World();
    world.registry$.next({ health: "lost", detail: "entries missing" });
    expect(world.kinds()).toEqual(["registry-lost"]);
    world.bus("registry.repaired");
    expect(world.cleared("registry-lost")).toBe(true);
  });

  it("raises registry-corrupt and clears it when the registry reads healthy", () => {
    world = new World();
    world.registry$.next({ health: "corrupt" });
    expect(world.kinds()).toEqual(["registry-corrupt"]);
    world.registry$.next({ health: "healthy" });
    expect(world.kinds()).toEqual([]);
  });

  it("raises ledger-rebuilt until the ledger is exported", () => {
    world = new World({ ledgerRebuilt: true });
    expect(world.kinds()).toEqual(["ledger-rebuilt"]);
    world.exportedAt = T0 + 1;
    world.engine.evaluate();
    expect(world.cleared("ledger-rebuilt")).toBe(true);
  });

  it("raises clock-jump on a large jump and clears it when the clock is set back", () => {
    world = new World();
    world.clockJumps$.next({
      type: "clock.jump",
      at: new Date(T0),
      direction: "forward",
      jumpMs: 2 * 3_600_000,
      acrossRestart: false,
    });
    expect(world.kinds()).toEqual(["clock-jump"]);
    expect(world.raised("clock-jump")?.message).toContain("forward by 120 minutes");
    world.clockJumps$.next({
      type: "clock.jump",
      at: new Date(T0),
      direction: "backward",
      jumpMs: 2 * 3_600_000,
      acrossRestart: false,
    });
    expect(world.cleared("clock-jump")).toBe(true);
  });
});

describe("borrow state", () => {
  it("raises borrow-expiring-unsettled for an expired borrow whose key is away, with the settle deadline", () => {
    world = new World();
    world.present.delete("KB-1");
    world.keyTime = T0 + 30 * DAY + 60_000;
    world.engine.evaluate();
    expect(world.kinds()).toEqual(["borrow-expiring-unsettled", "key-unplugged"]);
    expect(world.raised("borrow-expiring-unsettled")?.message).toContain("2026-02-10 12:00 UTC");
    world.present.add("KB-1");
    world.bus("key.attached", "KB-1");
    expect(world.kinds()).toEqual([]);
  });

  it("raises borrow-expiring-unsettled for an expired borrow bound to another identity", () => {
    world = new World();
    world.binding = NEW;
    world.keyTime = T0 + 31 * DAY;
    world.bus("key.moved", "KB-1");
    expect(world.kinds()).toContain("borrow-expiring-unsettled");
  });

  it("keeps license-update-pending open until the borrows are returned", () => {
    world = new World();
    world.engine.noteLicenseUpdatePending("KB-1");
    expect(world.kinds()).toEqual(["license-update-pending"]);
    expect(world.raised("license-update-pending")?.advice).toContain("2026-02-09");
    world.rows = [];
    world.bus("borrow.returned", "KB-1");
    expect(world.cleared("license-update-pending")).toBe(true);
  });

  it("ignores dummies: they endanger nothing more", () => {
    world = new World();
    world.rows = [row(1, { state: "dummy", dummyUntil: T0 + 40 * DAY })];
    world.present.delete("KB-1");
    world.bus("key.detached", "KB-1");
    expect(world.kinds()).toEqual([]);
  });
});

describe("the stream", () => {
  it("replays the open risks to a late subscriber", () => {
    world = new World();
    world.present.delete("KB-1");
    world.bus("key.detached", "KB-1");
    let seen: RiskView[] = [];
    const subscription = world.engine.risks$.subscribe((risks) => {
      seen = risks;
    });
    expect(seen.map((risk) => risk.kind)).toEqual(["key-unplugged"]);
    subscription.unsubscribe();
  });

  it("keeps `since` while a risk stays open", () => {
    world = new World();
    world.present.delete("KB-1");
    world.bus("key.detached", "KB-1");
    const since = world.engine.risks()[0]?.since;
    world.rows = [row(1), row(2)];
    world.bus("borrow.created", "KB-1");
    expect(world.engine.risks()[0]?.borrowIds).toEqual([1, 2]);
    expect(world.engine.risks()[0]?.since).toBe(since);
    expect(world.emitted.filter((e) => e.type === "risk.raised")).toHaveLength(1);
  });

  it("releases its subscriptions on close", () => {
    world = new World();
    world.engine.close();
    expect(world.events$.observed).toBe(false);
    expect(world.hostChanges$.observed).toBe(false);
    expect(world.clockJumps$.observed).toBe(false);
  });

  it("holds key-unplugged open exactly while the key is away with a borrow out (any plug sequence)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ plugged: fc.boolean(), borrowed: fc.boolean() }), { maxLength: 30 }),
        (steps) => {
          const w = new World();
          try {
            for (const step of steps) {
              if (step.plugged) w.present.add("KB-1");
              else w.present.delete("KB-1");
              w.rows = step.borrowed ? [row(1)] : [];
              w.bus(step.plugged ? "key.attached" : "key.detached", "KB-1");
              const open = w.kinds().includes("key-unplugged");
              expect(open).toBe(!step.plugged && step.borrowed);
            }
          } finally {
            w.engine.close();
          }
        },
      ),
    );
  });
});

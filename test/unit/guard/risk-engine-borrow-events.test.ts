import { Subject } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import type { BridgeEvent, BridgeEventType, RiskKind } from "../../../src/bridge/api.js";
import { type RegistryHealth, RiskEngine } from "../../../src/bridge/guard/index.js";
import type { BorrowRow } from "../../../src/ledger/index.js";
import { borrowRow, DAY, HERE, T0 } from "./rows.js";

const ELSEWHERE = "bb".repeat(32);
const row = borrowRow;

/** Many safe borrows out; counts how often the engine walks all of them. */
class World {
  readonly events$ = new Subject<BridgeEvent>();
  readonly registry$ = new Subject<{ health: RegistryHealth; detail?: string }>();
  readonly rows = new Map<string, BorrowRow>();
  readonly present = new Set(["KB-1", "KB-2"]);
  readonly emitted: BridgeEvent[] = [];
  fullWalks = 0;
  readonly engine: RiskEngine;

  constructor() {
    for (let id = 1; id <= 500; id++) this.add(row(id));
    this.engine = new RiskEngine(
      {
        events$: this.events$,
        registry$: this.registry$,
        outstanding: () => {
          this.fullWalks++;
          return Array.from(this.rows.values());
        },
        borrow: (serial, id) => this.rows.get(`${serial}/${id}`),
        currentBinding: () => HERE,
        isPresent: (serial) => this.present.has(serial),
        keyNow: () => T0 + DAY,
        settleWindowMs: () => DAY,
        ledgerExportedAt: () => null,
        emit: (type: BridgeEventType, message, extra) =>
          this.emitted.push({ type, message, at: new Date().toISOString(), ...extra }),
      },
      { pollMs: 60_000, now: () => T0 },
    );
    this.engine.start();
  }

  add(borrow: BorrowRow): void {
    this.rows.set(`${borrow.serial}/${borrow.id}`, borrow);
  }

  created(borrow: BorrowRow): void {
    this.add(borrow);
    this.bus("borrow.created", borrow);
  }

  returned(serial: string, id: number): void {
    const borrow = this.rows.get(`${serial}/${id}`);
    this.rows.delete(`${serial}/${id}`);
    if (borrow) this.bus("borrow.returned", borrow);
  }

  private bus(type: BridgeEventType, borrow: BorrowRow): void {
    this.events$.next({
      type,
      at: new Date().toISOString(),
      message: type,
      serial: borrow.serial,
      borrow: {
        source: "keybridge",
        id: borrow.id,
        serial: borrow.serial,
        product: borrow.product,
        client: borrow.client,
        issuedAt: new Date(borrow.issuedAt).toISOString(),
        expiresAt: new Date(borrow.expiresAt).toISOString(),
        state: "active",
      },
    });
  }

  kinds(): RiskKind[] {
    return this.engine
      .risks()
      .map((risk) => risk.kind)
      .sort();
  }
}

let world: World;
afterEach(() => world?.engine.close());

describe("borrow events while every borrow is safe", () => {
  it("judge a safe new borrow and a return without walking every outstanding borrow", () => {
    world = new World();
    const walks = world.fullWalks;
    for (let id = 501; id <= 600; id++) world.created(row(id));
    for (let id = 1; id <= 100; id++) world.returned("KB-1", id);
    expect(world.fullWalks).toBe(walks);
    expect(world.kinds()).toEqual([]);
    expect(world.emitted.filter((e) => e.type === "risk.raised")).toEqual([]);
  });

  it("still raise key-moved at once for a new borrow bound to another host", () => {
    world = new World();
    world.created(row(501, { binding: ELSEWHERE }));
    expect(world.kinds()).toEqual(["key-moved"]);
    expect(world.engine.risks()[0]?.borrowIds).toEqual([501]);
  });

  it("still raise key-unplugged at once for a new borrow on a key that is gone", () => {
    world = new World();
    world.created(row(1, { serial: "KB-3" }));
    expect(world.kinds()).toEqual(["key-unplugged"]);
  });

  it("still raise tag-unknown at once for a new borrow whose tag is unknown", () => {
    world = new World();
    world.created(row(501, { tag: "00".repeat(16) }));
    expect(world.kinds()).toEqual(["tag-unknown"]);
  });

  it("re-derive on every borrow event once a fact endangers borrows, and clear when the last one leaves", () => {
    world = new World();
    world.registry$.next({ health: "lost" });
    expect(world.kinds()).toEqual(["registry-lost"]);
    world.created(row(501));
    expect(world.engine.risks()[0]?.borrowIds).toHaveLength(501);
    for (const key of Array.from(world.rows.keys())) {
      const [serial, id] = key.split("/");
      world.returned(serial as string, Number(id));
    }
    expect(world.kinds()).toEqual([]);
    expect(world.emitted.some((e) => e.type === "risk.cleared" && e.risk?.kind === "registry-lost")).toBe(true);
  });
});

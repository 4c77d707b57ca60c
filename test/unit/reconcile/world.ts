import fc from "fast-check";
import type {
  KeyBorrow,
  KeyView,
  LedgerBorrow,
  ReconcileInput,
  RegistryBorrow,
  RepairPlan,
} from "../../../src/reconcile/index.js";
import { DAY, HOST, HOUR, NOW, OTHER_HOST, opIdOf, tagOf } from "./fixtures.js";

/**
 * A random world of borrows seen through the three views, and a model of the key (K3, K7) that
 * applies repair plans the way the bridge would, so properties can check what repairs do.
 */

export const SERIALS = ["K-1", "K-2", "K-3"] as const;
type KeyState = "readable" | "unreadable" | "absent";

const borrowArb = fc.record({
  serial: fc.constantFrom(...SERIALS),
  id: fc.integer({ min: 1, max: 40 }),
  product: fc.constantFrom(1, 2, 3),
  client: fc.constantFrom("ws-a", "ws-b"),
  expiresIn: fc.integer({ min: -2 * DAY, max: 30 * DAY }),
  binding: fc.constantFrom(HOST, HOST, OTHER_HOST),
  key: fc.constantFrom("none", "active", "active", "active", "dummy"),
  reg: fc.constantFrom("none", "same", "same", "client", "tag", "binding"),
  led: fc.constantFrom(
    "none",
    "active",
    "active",
    "returning",
    "dummy",
    "settled",
    "rolled-back",
    "changed",
    "history+active",
    "double",
  ),
  dummyIn: fc.integer({ min: -DAY, max: 30 * DAY }),
});
type BorrowSpec = typeof borrowArb extends fc.Arbitrary<infer T> ? T : never;

export interface World {
  borrows: BorrowSpec[];
  keyStates: Record<string, KeyState>;
  registryReadable: boolean;
  tagDerivable: boolean;
  hostBinding: string;
  keySkew: number;
}

export const worldArb: fc.Arbitrary<World> = fc.record({
  borrows: fc.uniqueArray(borrowArb, { selector: (b) => `${b.serial}/${b.id}`, maxLength: 30 }),
  keyStates: fc.record({
    "K-1": fc.constantFrom<KeyState>("readable", "readable", "unreadable", "absent"),
    "K-2": fc.constantFrom<KeyState>("readable", "readable", "unreadable", "absent"),
    "K-3": fc.constantFrom<KeyState>("readable", "readable", "unreadable", "absent"),
  }),
  registryReadable: fc.constantFrom(true, true, true, false),
  tagDerivable: fc.boolean(),
  hostBinding: fc.constantFrom(HOST, HOST, OTHER_HOST),
  keySkew: fc.integer({ min: -HOUR, max: HOUR }),
});

function keyRecordOf(b: BorrowSpec): KeyBorrow {
  const record: KeyBorrow = {
    id: b.id,
    product: b.product,
    client: b.client,
    issuedAt: NOW - 2 * DAY,
    expiresAt: NOW + b.expiresIn,
    binding: b.binding,
    opId: opIdOf(b.id),
    state: b.key === "dummy" ? "dummy" : "active",
  };
  if (b.key === "dummy") record.dummyUntil = NOW + b.dummyIn;
  return record;
}

export function inputOf(w: World): ReconcileInput {
  const keys: KeyView[] = SERIALS.map((serial) => {
    const state = w.keyStates[serial]!;
    const view: KeyView = { serial, present: state !== "absent", settleWindowMs: DAY, keyTimeMs: NOW + w.keySkew };
    if (state === "readable") {
      view.borrows = w.borrows.filter((b) => b.serial === serial && b.key !== "none").map(keyRecordOf);
    }
    return view;
  });
  const registry: RegistryBorrow[] = [];
  const ledger: LedgerBorrow[] = [];
  for (const b of w.borrows) {
    const k = keyRecordOf(b);
    const base = {
      serial: b.serial,
      id: b.id,
      product: k.product,
      client: k.client,
      issuedAt: k.issuedAt,
      expiresAt: k.expiresAt,
      binding: k.binding,
      tag: tagOf(b.id),
    };
    const ledgerOutstanding =
      b.led === "active" ||
      b.led === "returning" ||
      b.led === "dummy" ||
      b.led === "changed" ||
      b.led === "history+active" ||
      b.led === "double";
    if (b.reg !== "none") {
      // A wrong registry tag with no ledger row is beyond any repair (the key hides tags, K8), so only the ledger can contradict it.
      const reg = b.reg === "tag" && !ledgerOutstanding ? "same" : b.reg;
      registry.push({
        ...base,
        client: reg === "client" ? "someone-else" : base.client,
        binding: reg === "binding" ? "cc".repeat(32) : base.binding,
        tag: reg === "tag" ? "00".repeat(16) : base.tag,
      });
    }
    const row: LedgerBorrow = { ...base, opId: k.opId, state: "active" };
    switch (b.led) {
      case "none":
        break;
      case "changed":
        ledger.push({ ...row, client: "stale-client" });
        break;
      case "double":
        // Two outstanding rows for one borrow: the choice between them must not depend on their order.
        ledger.push({ ...row, client: "stale-client" }, row);
        break;
      case "history+active":
        ledger.push({ ...row, state: "settled" }, row);
        break;
      case "dummy":
        ledger.push({ ...row, state: "dummy", dummyUntil: NOW + b.dummyIn });
        break;
      default:
        ledger.push({ ...row, state: b.led as LedgerBorrow["state"] });
    }
  }
  const input: ReconcileInput = {
    keys,
    registry: w.registryReadable ? { readable: true, borrows: registry } : { readable: false, reason: "corrupt file" },
    ledger,
    host: { binding: w.hostBinding },
    now: NOW,
  };
  if (w.tagDerivable) input.tagDerivable = true;
  return input;
}

/** Rotates and reverses every list: same content, other order. */
export function reorder(input: ReconcileInput, by: number): ReconcileInput {
  const shuffle = <T>(items: T[]): T[] => {
    if (items.length === 0) return items;
    const r = by % items.length;
    return [...items.slice(r), ...items.slice(0, r)].reverse();
  };
  return {
    ...input,
    keys: shuffle(input.keys.map((k) => (k.borrows === undefined ? k : { ...k, borrows: shuffle(k.borrows) }))),
    registry: input.registry.readable ? { readable: true, borrows: shuffle(input.registry.borrows) } : input.registry,
    ledger: shuffle(input.ledger),
  };
}

export interface ApplyOutcome {
  /** Key operations refused or turned into dummies: a safe repair must never cause one. */
  failures: string[];
}

function isOutstanding(row: LedgerBorrow): boolean {
  return row.state === "active" || row.state === "returning" || row.state === "dummy";
}

/**
 * Applies a plan to the input in place, as the bridge would, with the key model judging every
 * settle and rebind against the true tag (tagOf(id)).
 */
export function applyPlan(input: ReconcileInput, plan: RepairPlan): ApplyOutcome {
  const failures: string[] = [];
  const keyRecord = (serial: string, id: number): KeyBorrow | undefined => {
    const view = input.keys.find((k) => k.serial === serial);
    return view?.present ? view.borrows?.find((b) => b.id === id) : undefined;
  };
  const outstanding = (serial: string, id: number) =>
    input.ledger.find((r) => r.serial === serial && r.id === id && isOutstanding(r));
  const registryEntries = () => (input.registry.readable ? input.registry.borrows : []);
  const setRegistry = (entries: RegistryBorrow[]) => {
    input.registry = { readable: true, borrows: entries };
  };
  const writeRegistryEntry = (serial: string, id: number) => {
    const l = outstanding(serial, id);
    if (l === undefined) {
      failures.push(`restore-registry ${serial}/${id} without a ledger row`);
      return;
    }
    const k = keyRecord(serial, id);
    const src = k ?? l;
    const entry: RegistryBorrow = {
      serial,
      id,
      product: src.product,
      client: src.client,
      issuedAt: src.issuedAt,
      expiresAt: src.expiresAt,
      binding: src.binding,
      tag: l.tag,
    };
    setRegistry([...registryEntries().filter((r) => !(r.serial === serial && r.id === id)), entry]);
  };

  for (const step of plan.steps) {
    const { serial, borrowId: id } = step;
    if (step.action === "restore-registry" && serial === undefined) {
      setRegistry([]);
      for (const row of input.ledger)
        if (row.state === "active" || row.state === "returning") writeRegistryEntry(row.serial, row.id);
      continue;
    }
    if (serial === undefined || id === undefined) {
      failures.push(`${step.action} without a borrow`);
      continue;
    }
    const k = keyRecord(serial, id);
    const l = outstanding(serial, id);
    switch (step.action) {
      case "rebuild-ledger": {
        if (k === undefined) {
          failures.push(`rebuild-ledger ${serial}/${id} without a key record`);
          break;
        }
        const reg = registryEntries().find((r) => r.serial === serial && r.id === id);
        const tag = step.tagSource === "ledger" ? l?.tag : step.tagSource === "registry" ? reg?.tag : tagOf(id);
        if (tag === undefined) {
          failures.push(`rebuild-ledger ${serial}/${id} without a tag`);
          break;
        }
        input.ledger = input.ledger.filter((r) => !(r.serial === serial && r.id === id && isOutstanding(r)));
        const { product, client, issuedAt, expiresAt, binding, opId } = k;
        input.ledger.push({ serial, id, opId, product, client, issuedAt, expiresAt, binding, tag, state: "active" });
        break;
      }
      case "mark-ledger-settled":
        if (l !== undefined) l.state = "settled";
        break;
      case "restore-registry":
        writeRegistryEntry(serial, id);
        break;
      case "remove-registry-entry":
        setRegistry(registryEntries().filter((r) => !(r.serial === serial && r.id === id)));
        break;
      case "migrate": {
        if (k === undefined || l === undefined || k.state !== "active") {
          failures.push(`migrate ${serial}/${id} without key record and ledger row`);
          break;
        }
        if (k.binding !== l.binding || l.tag !== tagOf(id)) {
          failures.push(`migrate ${serial}/${id} refused by the key (K7)`);
          break;
        }
        k.binding = input.host.binding;
        l.binding = input.host.binding;
        for (const r of registryEntries()) if (r.serial === serial && r.id === id) r.binding = input.host.binding;
        break;
      }
      case "settle-now": {
        if (k === undefined || l === undefined || k.state !== "active") {
          failures.push(`settle ${serial}/${id} without key record and ledger row`);
          break;
        }
        if (k.binding !== input.host.binding || l.tag !== tagOf(id)) {
          failures.push(`settle ${serial}/${id} created a dummy (K3)`);
          k.state = "dummy";
          break;
        }
        const view = input.keys.find((v) => v.serial === serial)!;
        view.borrows = view.borrows!.filter((b) => b.id !== id);
        l.state = "settled";
        setRegistry(registryEntries().filter((r) => !(r.serial === serial && r.id === id)));
        break;
      }
    }
  }
  return { failures };
}

/** A deep copy, so a plan can be applied without touching the original input. */
export function cloneInput(input: ReconcileInput): ReconcileInput {
  return structuredClone(input);
}

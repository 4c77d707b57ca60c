import type { OpenedBridge } from "../../src/bridge/open.js";
import { openBridge } from "../../src/bridge/open.js";
import type { BorrowRow } from "../../src/ledger/index.js";
import type { Ack } from "./run-child.js";

export const SERIAL = "KB-DEMO-0001";

/** The same options the driver uses, so the restart sees the data dir as the daemon would. */
export function reopen(dataDir: string): Promise<OpenedBridge> {
  return openBridge(
    {
      dataDir,
      mode: "virtual",
      mirrorLagMs: 4,
      driftCheckMs: 600_000,
      hostPollMs: 600_000,
      clockCheckMs: 600_000,
    },
    { hotplugDebounceMs: 1, expiryCheckMs: 600_000 },
  );
}

interface Expectations {
  /** Acknowledged borrows whose end was never begun: must be outstanding after restart. */
  mustBeOut: Set<number>;
  /** Acknowledged returns and expiry settles: must be gone from the key, ended in the ledger. */
  mustBeEnded: Set<number>;
  /** Ends begun but not acknowledged: either outcome is correct, but key and ledger must agree. */
  either: Set<number>;
}

function expectationsOf(acks: Ack[]): Expectations {
  const borrowed = new Set<number>();
  const begun = new Set<number>();
  const ended = new Set<number>();
  for (const ack of acks) {
    if (ack.id === undefined) continue;
    if (ack.op === "borrow") borrowed.add(ack.id);
    else if (ack.op === "return-start" || ack.op === "expire-start") begun.add(ack.id);
    else if (ack.op === "return" || ack.op === "settled") ended.add(ack.id);
  }
  const mustBeOut = new Set([...borrowed].filter((id) => !begun.has(id) && !ended.has(id)));
  const either = new Set([...begun].filter((id) => !ended.has(id)));
  return { mustBeOut, mustBeEnded: ended, either };
}

const ENDED = new Set(["returned", "settled", "rolled-back"]);

/**
 * Restarts the bridge on a killed driver's data dir (recovery runs at open) and checks the
 * reliability invariants. Returns the problems found, empty when all hold. The bridge is closed
 * before returning.
 */
export async function checkAfterCrash(dataDir: string, acks: Ack[]): Promise<string[]> {
  const problems: string[] = [];
  const bridge = await reopen(dataDir);
  try {
    const expected = expectationsOf(acks);
    const key = bridge.testSeams.world?.key(SERIAL);
    if (key === undefined) return ["the virtual key is missing after restart"];
    const onKey = new Map(key.state.borrows.map((record) => [record.id, record]));
    const rows = bridge.testSeams.ledger.listBorrows({ serial: SERIAL });
    const rowById = new Map(rows.map((row) => [row.id, row]));

    // No dummy, on the key or in the ledger, and nothing left half-done.
    for (const record of onKey.values()) {
      if (record.state === "dummy") problems.push(`key holds borrow ${record.id} as a dummy`);
    }
    for (const row of rows) {
      if (row.state === "dummy") problems.push(`ledger records borrow ${row.id} as a dummy`);
      if (row.state === "returning") problems.push(`borrow ${row.id} is still 'returning' after recovery`);
    }

    // No acknowledged borrow lost.
    for (const id of expected.mustBeOut) {
      const row = rowById.get(id);
      if (row?.state !== "active")
        problems.push(`acknowledged borrow ${id} is ${row?.state ?? "missing"} in the ledger`);
      if (onKey.get(id)?.state !== "active") problems.push(`acknowledged borrow ${id} is not active on the key`);
    }
    // No acknowledged return undone.
    for (const id of expected.mustBeEnded) {
      if (onKey.has(id)) problems.push(`acknowledged return/settle of ${id} is undone: the key still holds it`);
      const state = rowById.get(id)?.state;
      if (state === undefined || !ENDED.has(state))
        problems.push(`ended borrow ${id} is ${state ?? "missing"} in the ledger`);
    }

    // Key and ledger agree record by record: nothing allocated twice, nothing orphaned.
    const active = rows.filter((row) => row.state === "active");
    const activeIds = new Set(active.map((row) => row.id));
    for (const record of onKey.values()) {
      const row = rowById.get(record.id);
      if (row === undefined || !activeIds.has(record.id)) {
        problems.push(`key record ${record.id} has no active ledger row (${row?.state ?? "none"})`);
      } else if (row.opId !== Buffer.from(record.opId).toString("hex")) {
        problems.push(`key record ${record.id} and its ledger row carry different opIds`);
      }
    }
    for (const row of active) {
      if (!onKey.has(row.id)) problems.push(`ledger row ${row.id} is active but the key does not hold it`);
    }
    const opIds = new Set(rows.map((row) => row.opId));
    if (opIds.size !== rows.length) problems.push("two ledger rows share one opId");
    for (const license of key.state.licenses) {
      const ledgerCount = active.filter((row: BorrowRow) => row.product === license.product).length;
      if (license.borrowed !== ledgerCount) {
        problems.push(`product ${license.product}: key counts ${license.borrowed} borrowed, ledger ${ledgerCount}`);
      }
      if (license.dummies !== 0) problems.push(`product ${license.product}: ${license.dummies} dummies on the key`);
    }
    for (const id of expected.either) {
      const row = rowById.get(id);
      const out = row?.state === "active" && onKey.get(id)?.state === "active";
      const gone = row !== undefined && ENDED.has(row.state) && !onKey.has(id);
      if (!out && !gone) problems.push(`interrupted end of ${id} left key and ledger apart`);
    }
    if (problems.length > 0) return problems;

    // What an operator would do next: let the expiry sweep run, rerun an interrupted migrate.
    await bridge.testSeams.sweepExpired();
    if (bridge.testSeams.index.rows().some((row) => row.binding !== bridge.testSeams.binding())) await bridge.migrate();
    await bridge.testSeams.mirror.flush();
    const report = await bridge.reconcile();
    for (const finding of report.findings) {
      if (finding.severity !== "info")
        problems.push(`reconcile: ${finding.severity} ${finding.kind}: ${finding.message}`);
    }

    // Every outstanding borrow is still returnable without a dummy.
    for (const borrow of await bridge.borrows()) {
      try {
        await bridge.returnBorrow(borrow.id);
      } catch (error) {
        problems.push(`borrow ${borrow.id} could not be returned: ${String(error)}`);
      }
    }
    const left = key.state.borrows;
    if (left.length > 0)
      problems.push(
        `after returning everything the key still holds ${left.map((b) => `${b.id}:${b.state}`).join(", ")}`,
      );
    return problems;
  } finally {
    await bridge.close();
  }
}

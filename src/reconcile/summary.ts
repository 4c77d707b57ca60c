import { SEVERITY_RANK, type Severity } from "../vocabulary/index.js";
import type { BlockedProduct, DummyInfo, Finding, FindingKind } from "./types.js";
import { FINDING_KINDS } from "./types.js";

/** Number of findings of each kind, and the most severe severity among them. */
export function tally(findings: readonly Finding[]): { counts: Record<FindingKind, number>; worst: Severity } {
  const counts = {} as Record<FindingKind, number>;
  for (const kind of FINDING_KINDS) counts[kind] = 0;
  let worst: Severity = "info";
  for (const f of findings) {
    counts[f.kind]++;
    if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst]) worst = f.severity;
  }
  return { counts, worst };
}

/** Products blocked by dummies, per key, with the date the last of their dummies clears. */
export function blockedBy(dummies: readonly DummyInfo[]): BlockedProduct[] {
  const byProduct = new Map<string, BlockedProduct>();
  for (const d of dummies) {
    const key = `${d.serial}\u0000${d.product}`;
    const seen = byProduct.get(key);
    if (seen === undefined) byProduct.set(key, { serial: d.serial, product: d.product, until: d.dummyUntil });
    else if (seen.until !== null) seen.until = d.dummyUntil === null ? null : Math.max(seen.until, d.dummyUntil);
  }
  return Array.from(byProduct.values()).sort((a, b) =>
    a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : a.product - b.product,
  );
}

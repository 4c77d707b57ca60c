import { combineLatest, map, type Observable } from "rxjs";
import type { RiskView } from "./api.js";
import type { RiskSource } from "./risk-source.js";

/**
 * The bridge's one list of open risks: the risk engine's (source `keybridge`) followed by the
 * CodeMeter mode's (source `codemeter`). Each source publishes its own `risk.raised` and
 * `risk.cleared`; this only joins the lists.
 */
export function combinedRisks(keybridge: RiskSource, codemeter: RiskSource): RiskSource {
  const risks$: Observable<RiskView[]> = combineLatest([keybridge.risks$, codemeter.risks$]).pipe(
    map(([own, theirs]) => (theirs.length === 0 ? own : [...own, ...theirs])),
  );
  return {
    risks: () => {
      const theirs = codemeter.risks();
      return theirs.length === 0 ? keybridge.risks() : [...keybridge.risks(), ...theirs];
    },
    risks$,
  };
}

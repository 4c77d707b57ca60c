import type { Observable } from "rxjs";
import type { RiskView } from "./api.js";

/** Where the bridge reads its open risks from: the guard's risk engine (src/bridge/guard/risk-engine.ts). */
export interface RiskSource {
  risks(): RiskView[];
  readonly risks$: Observable<RiskView[]>;
}

import { BehaviorSubject, type Observable } from "rxjs";
import type { RiskView } from "./api.js";

/** Where the open risks come from. The guard layer provides the real engine; the bridge only composes it. */
export interface RiskSource {
  risks(): RiskView[];
  readonly risks$: Observable<RiskView[]>;
  close?(): void;
}

/** A source that never raises a risk: the default until the guard's engine is plugged in. */
export class NoRisks implements RiskSource {
  private readonly subject = new BehaviorSubject<RiskView[]>([]);
  readonly risks$: Observable<RiskView[]> = this.subject.asObservable();

  risks(): RiskView[] {
    return [];
  }

  close(): void {
    this.subject.complete();
  }
}

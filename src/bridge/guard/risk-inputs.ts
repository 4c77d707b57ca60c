import type { Observable } from "rxjs";
import type { ClockJumpEvent, HostChangedEvent } from "../../host/index.js";
import type { BorrowRow } from "../../ledger/index.js";
import type { BridgeEvent, BridgeEventType, RiskKind } from "../api.js";
import type { LedgerProblem } from "../ledger-watch.js";
import type { RegistryHealthReport } from "../mirror.js";

export type { RegistryHealth } from "../mirror.js";

/** What the engine reads from the bridge; everything else arrives as events. */
export interface RiskEngineInputs {
  /** The bridge's event stream: key attach/detach/moved/counterfeit, borrow changes, repairs. */
  readonly events$: Observable<BridgeEvent>;
  readonly hostChanges$?: Observable<HostChangedEvent>;
  readonly clockJumps$?: Observable<ClockJumpEvent>;
  /** The registry's health after each of the mirror's comparisons. */
  readonly registry$?: Observable<RegistryHealthReport>;
  /** Outstanding borrows now (active, returning and dummy rows). */
  outstanding(): readonly BorrowRow[];
  /**
   * One outstanding borrow by serial and id. With it, a borrow event that cannot change any risk
   * is judged from its own row instead of every outstanding one.
   */
  borrow?(serial: string, id: number): BorrowRow | undefined;
  /** The binding (hex) of the host identity now. */
  currentBinding(): string;
  /** Is the keybridge key with this serial attached now? */
  isPresent(serial: string): boolean;
  /** The key's clock (epoch ms), last known offset when absent. */
  keyNow(serial: string): number;
  settleWindowMs(serial: string): number;
  /** When the ledger was last exported (epoch ms), if ever. */
  ledgerExportedAt(): number | null;
  /** The planned maintenance window (epoch ms), if any. */
  maintenance?(): MaintenanceWindow | null;
  /** What is wrong with the ledger now (writes failing, file deleted or replaced), if anything. */
  ledgerProblem?(): LedgerProblem | undefined;
  /** Publishes risk.raised / risk.cleared on the bridge's bus. */
  emit(type: BridgeEventType, message: string, extra: Omit<BridgeEvent, "type" | "at" | "message" | "seq">): void;
}

export interface MaintenanceWindow {
  at: number;
  until: number | null;
  action: string | null;
}

export interface RiskEngineOptions {
  /** Re-evaluation interval for time-driven risks (expiry). Default 5000 ms. */
  pollMs?: number;
  /** A net clock jump smaller than this is no risk. Default 15 minutes. */
  clockThresholdMs?: number;
  /** The ledger was rebuilt when the bridge opened. */
  ledgerRebuilt?: boolean;
  now?: () => number;
}

export interface DesiredRisk {
  kind: RiskKind;
  serial?: string;
  rows: readonly BorrowRow[];
  message: string;
  advice: string;
}

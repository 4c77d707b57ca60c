import { merge, type Observable } from "rxjs";
import type { ClockJumpEvent } from "../host/index.js";
import type { Ledger } from "../ledger/index.js";
import { DAY_MS } from "../vocabulary/index.js";
import type { BorrowIndex } from "./borrow-index.js";
import type { EventBus } from "./event-bus.js";
import type { RiskEngineInputs } from "./guard/risk-inputs.js";
import type { HostWatch } from "./host-watch.js";
import type { KeyManager } from "./key-manager.js";
import type { LedgerWatch } from "./ledger-watch.js";
import type { MaintenancePlanner } from "./maintenance.js";
import type { Mirror } from "./mirror.js";

/** The parts of the bridge the risk engine observes. */
export interface RiskSources {
  readonly events: Pick<EventBus, "emit" | "events$">;
  readonly host: Pick<HostWatch, "changes$" | "clockJumps$" | "binding">;
  readonly index: Pick<BorrowIndex, "get" | "rows">;
  readonly keys: Pick<KeyManager, "session">;
  readonly ledger: Pick<Ledger, "getMeta">;
  readonly ledgerWatch: Pick<LedgerWatch, "problem">;
  readonly maintenance: Pick<MaintenancePlanner, "window">;
  readonly registryHealth$: Mirror["health$"];
  /** Jumps from another source besides the clock monitor (virtual mode cannot step the wall clock). */
  readonly clockJumps$?: Observable<ClockJumpEvent> | undefined;
}

/** The risk engine's inputs, read from the bridge's parts. */
export function riskInputsOf(sources: RiskSources): RiskEngineInputs {
  const { events, host, index, keys, ledger } = sources;
  return {
    events$: events.events$,
    hostChanges$: host.changes$,
    clockJumps$: sources.clockJumps$ === undefined ? host.clockJumps$ : merge(host.clockJumps$, sources.clockJumps$),
    registry$: sources.registryHealth$,
    outstanding: () => index.rows(),
    borrow: (serial, id) => index.get(serial, id),
    currentBinding: () => host.binding(),
    isPresent: (serial) => keys.session(serial)?.present === true,
    keyNow: (serial) => keys.session(serial)?.keyNow() ?? Date.now(),
    settleWindowMs: (serial) => keys.session(serial)?.settleWindowMs ?? DAY_MS,
    ledgerExportedAt: () => {
      const value = ledger.getMeta("last_export_at");
      return value === undefined ? null : Number(value);
    },
    maintenance: () => sources.maintenance.window(),
    ledgerProblem: () => sources.ledgerWatch.problem(),
    emit: (type, message, extra) => events.emit(type, message, extra),
  };
}

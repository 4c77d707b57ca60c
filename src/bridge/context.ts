import type { Ledger } from "../ledger/index.js";
import type { BorrowIndex } from "./borrow-index.js";
import type { BorrowLocks } from "./borrow-locks.js";
import type { EventBus } from "./event-bus.js";
import type { InFlight } from "./in-flight.js";
import type { KeyManager } from "./key-manager.js";
import type { KeyOrder } from "./key-order.js";
import type { MaintenancePlanner } from "./maintenance.js";
import type { Mirror } from "./mirror.js";

/** What the bridge's services share; built once by `openBridge`. */
export interface BridgeContext {
  readonly ledger: Ledger;
  readonly index: BorrowIndex;
  readonly keys: KeyManager;
  readonly mirror: Mirror;
  readonly events: EventBus;
  readonly inFlight: InFlight;
  readonly locks: BorrowLocks;
  readonly keyOrder: KeyOrder;
  readonly maintenance: MaintenancePlanner;
  /** The current host binding, lower-case hex (32 bytes). */
  binding(): string;
  productName(product: number): string | undefined;
}

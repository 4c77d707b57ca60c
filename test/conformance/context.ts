import type { KeyClient } from "../../src/key/key-client.js";
import type { TestVendor } from "./vendor.js";

/** Knobs only a virtual key (or a key on a bench with a controllable clock) offers. */
export interface KeyControls {
  /** Moves the key's clock forward by `ms`. */
  advanceClock(ms: number): void | Promise<void>;
  /** Restarts the key's firmware; its stored state must survive. */
  reboot?(): void | Promise<void>;
}

export interface ConformanceContext {
  readonly client: KeyClient;
  readonly controls?: KeyControls;
  /** The vendor the key was provisioned with, able to sign updates for it; without it those cases skip. */
  readonly vendor?: TestVendor;
}

export interface ConformanceCase {
  readonly name: string;
  /** "protocol", "vendor" (provisioning and the vendor's signature), or the rule it checks: "K1" … "K9". */
  readonly rule: string;
  /** Runs only when `controls` are present. */
  readonly needsClockControl?: boolean;
  /** Runs only when the context has the key's `vendor` (its secret signs updates). */
  readonly needsVendor?: boolean;
  /** Leaves lasting marks on a real key (a Borrow Dummy for a whole borrow period, a new license-set version). */
  readonly destructive?: boolean;
  run(context: ConformanceContext): Promise<void>;
}

import type { BorrowRow } from "../../ledger/index.js";
import { formatTime } from "../../reconcile/index.js";
import { BorrowsOutstandingError } from "../errors.js";
import { describeBorrows, lastExpiry } from "./describe.js";

type Described = Pick<BorrowRow, "id" | "client" | "product" | "expiresAt">;

/** K6 guard refusal: names the borrows a license update would turn into dummies and when the last one expires. */
export class LicenseUpdateBlockedError extends BorrowsOutstandingError {
  /**
   * `rows`: the key's outstanding borrows in the ledger; `unrecorded`: active borrows the key lists
   * that the ledger does not hold (another host's, or one whose answer was lost and not yet rolled back).
   */
  constructor(serial: string, rows: readonly Described[], unrecorded: readonly Described[] = []) {
    const all = [...rows, ...unrecorded];
    super(
      serial,
      all.map((row) => row.id),
    );
    const strangers =
      unrecorded.length === 0
        ? ""
        : ` (${unrecorded.length} of them the key lists but the ledger does not hold: ${unrecorded.map((r) => r.id).join(", ")})`;
    this.message =
      `key ${serial} has ${all.length} outstanding borrow(s)${strangers}: ${describeBorrows(all)}. A license update now would ` +
      `turn them into borrow dummies (rule K6). Return them first, or wait until ${formatTime(lastExpiry(all))} ` +
      "when the last one expires; --force updates anyway and records the dummies in the audit trail";
  }
}

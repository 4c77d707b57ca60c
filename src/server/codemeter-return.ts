import type { Bridge } from "../bridge/api.js";
import { CodeMeterBorrowReadOnlyError, isCodeMeterBorrowId } from "../bridge/index.js";

/**
 * `DELETE /v1/borrows/:id` with a CodeMeter borrow id: refused (409 CODEMETER_BORROW_READ_ONLY),
 * saying whether keybridge has seen the borrow. Any other id passes on to the bridge.
 */
export async function refuseCodeMeterReturn(bridge: Pick<Bridge, "codemeter">, id: string): Promise<void> {
  if (!isCodeMeterBorrowId(id)) return;
  const known = (await bridge.codemeter()).borrows.some((borrow) => borrow.borrowId === id);
  throw new CodeMeterBorrowReadOnlyError(id, known);
}

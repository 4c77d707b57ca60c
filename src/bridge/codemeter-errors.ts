import { KeybridgeError } from "../errors.js";

/** A CodeMeter borrow id: `<mask>-<serial>-<firm code>-<index>` (digits, four parts). */
const CODEMETER_BORROW_ID = /^[0-9]{1,10}(-[0-9]{1,10}){3}$/;

export function isCodeMeterBorrowId(id: string): boolean {
  return CODEMETER_BORROW_ID.test(id);
}

/**
 * A return (or any change) was asked for a CodeMeter borrow. keybridge watches a CodeMeter server
 * read-only: it never speaks the stick's protocol nor changes CodeMeter's configuration, so only
 * the borrower can return it. HTTP 409.
 */
export class CodeMeterBorrowReadOnlyError extends KeybridgeError {
  constructor(borrowId: string, known: boolean) {
    super(
      "CODEMETER_BORROW_READ_ONLY",
      `${known ? `${borrowId} is a CodeMeter borrow` : `${borrowId} names a CodeMeter borrow (keybridge has not seen this one)`}: ` +
        "keybridge watches CodeMeter borrows read-only and cannot return them; the borrower returns it on the " +
        "client computer (CodeMeter Control Center), or it ends by itself at its expiry",
      { details: { borrowId, source: "codemeter", known } },
    );
  }
}

import { KeybridgeError } from "../../errors.js";

/** Something about the vendor's files or input the vendor has to fix; `code` says what. */
export class VendorError extends KeybridgeError {
  constructor(
    code:
      | "VENDOR_KEY_MISSING"
      | "VENDOR_KEY_EXISTS"
      | "VENDOR_KEY_INVALID"
      | "VENDOR_COUNTER_USED"
      | "VENDOR_COUNTERS_INVALID"
      | "LICENSES_INVALID"
      | "UPDATE_FILE_INVALID"
      | "UPDATE_SIGNATURE_INVALID",
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(code, message, options);
  }
}

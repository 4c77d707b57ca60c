import { KeybridgeError } from "../../errors.js";

/** A doctor check did not finish in its time (a hung USB stack, a daemon that accepts but never answers). */
export class CheckTimedOutError extends KeybridgeError {
  constructor(id: string, timeoutMs: number) {
    super("DOCTOR_CHECK_TIMEOUT", `no answer within ${timeoutMs / 1000} s`, { details: { check: id, timeoutMs } });
  }
}

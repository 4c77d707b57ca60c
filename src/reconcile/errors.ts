import { KeybridgeError } from "../errors.js";
import { PREFLIGHT_ACTIONS } from "./actions.js";

/** A preflight was asked for an action outside PREFLIGHT_ACTIONS (a typo on the CLI or in an API path). */
export class UnknownPreflightActionError extends KeybridgeError {
  constructor(action: string) {
    super("UNKNOWN_PREFLIGHT_ACTION", `Unknown preflight action "${action}"; known: ${PREFLIGHT_ACTIONS.join(", ")}.`, {
      details: { action, known: [...PREFLIGHT_ACTIONS] },
    });
  }
}

import { isPreflightAction, type PreflightAction, UnknownPreflightActionError } from "../../reconcile/index.js";
import type { PreflightView } from "../api.js";

export interface PreflightSources {
  /** Probes the host once, so a change made a moment ago is part of the answer. */
  refreshHost?: () => Promise<void>;
  /** The verdict over the bridge's live state (outstanding borrows, dummies, in-flight ops, ledger health, last export). */
  answer(action: PreflightAction): Promise<PreflightView>;
}

/**
 * `GET /v1/preflight/:action` and `keybridge preflight ACTION`: an unknown action is a usage
 * error (UNKNOWN_PREFLIGHT_ACTION) before anything is probed; otherwise the host is probed
 * once and the pure `preflight()` judges the state of now.
 */
export async function guardedPreflight(action: unknown, sources: PreflightSources): Promise<PreflightView> {
  if (!isPreflightAction(action)) throw new UnknownPreflightActionError(String(action));
  await sources.refreshHost?.();
  return sources.answer(action);
}

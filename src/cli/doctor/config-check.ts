import type { LoadedConfig } from "../../config/load.js";
import { isCodedError } from "../../errors.js";
import type { resolveWebhooks } from "../../server/notify/targets.js";

type ResolveWebhooks = typeof resolveWebhooks;

import { type CheckOutcome, type DoctorCheck, fail, ok, warn } from "./types.js";

/** What loading the configuration gave: the config, or the error the daemon would stop on. */
export type ConfigLoad = { loaded: LoadedConfig } | { error: Error };

/** `resolve`: the daemon's own webhook check; given, the webhooks are checked as the daemon will. */
export function checkConfig(load: ConfigLoad, resolve?: ResolveWebhooks): CheckOutcome {
  if ("error" in load) {
    return fail(
      `the configuration does not load: ${load.error.message}`,
      "fix the named setting; keybridge config shows where each value comes from",
    );
  }
  const { loaded } = load;
  const from = loaded.file === undefined ? "defaults and environment (no configuration file)" : loaded.file;
  const webhooks = resolve === undefined ? undefined : checkWebhooks(loaded, resolve);
  if (webhooks !== undefined) return webhooks;
  if (loaded.warnings.length > 0) {
    return warn(`${from}: ${loaded.warnings.join("; ")}`, "keybridge config shows where each value comes from");
  }
  return ok(`from ${from}; data directory ${loaded.config.dataDir}`);
}

/**
 * The webhooks as the daemon will resolve them at start (event names, names, secret files): a
 * mistake here stops the daemon at its next start, so doctor says it first. A secret file this
 * user may not read is a warning — the service account may.
 */
function checkWebhooks(loaded: LoadedConfig, resolve: ResolveWebhooks): CheckOutcome | undefined {
  try {
    resolve(loaded.config.webhooks);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    const cause = (error as { cause?: { code?: unknown } }).cause;
    if (cause?.code === "EACCES") {
      return warn(`${message} (as this user)`, "run sudo keybridge doctor, as the daemon would read it");
    }
    if (!isCodedError(error) || error.code !== "NOTIFY_SETUP_FAILED") throw error;
    return fail(
      `the daemon would not start: ${message}`,
      "fix the webhook in the configuration (docs/notify.md), then restart the daemon",
    );
  }
}

export function configCheck(load: ConfigLoad): DoctorCheck {
  return {
    id: "config",
    title: "configuration",
    // Loaded only now: the webhook check reads the bridge's event names, which the CLI's start must not load.
    run: async () => checkConfig(load, (await import("../../server/notify/targets.js")).resolveWebhooks),
  };
}

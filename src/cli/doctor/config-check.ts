import type { LoadedConfig } from "../../config/load.js";
import { type CheckOutcome, type DoctorCheck, fail, ok, warn } from "./types.js";

/** What loading the configuration gave: the config, or the error the daemon would stop on. */
export type ConfigLoad = { loaded: LoadedConfig } | { error: Error };

export function checkConfig(load: ConfigLoad): CheckOutcome {
  if ("error" in load) {
    return fail(
      `the configuration does not load: ${load.error.message}`,
      "fix the named setting; keybridge config shows where each value comes from",
    );
  }
  const { loaded } = load;
  const from = loaded.file === undefined ? "defaults and environment (no configuration file)" : loaded.file;
  if (loaded.warnings.length > 0) {
    return warn(`${from}: ${loaded.warnings.join("; ")}`, "keybridge config shows where each value comes from");
  }
  return ok(`from ${from}; data directory ${loaded.config.dataDir}`);
}

export function configCheck(load: ConfigLoad): DoctorCheck {
  return { id: "config", title: "configuration", run: async () => checkConfig(load) };
}

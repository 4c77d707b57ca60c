import { existsSync } from "node:fs";
import { join } from "node:path";
import { DAEMON_FILE_NAME, defaultDataDir } from "../../config/paths.js";
import { readDaemonInfo } from "../../server/daemon-files.js";
import { type Endpoint, resolveEndpoint } from "../client.js";
import { codeMeterChecks } from "./codemeter-checks.js";
import { type ConfigLoad, configCheck } from "./config-check.js";
import { daemonCheck } from "./daemon-check.js";
import { dataDirCheck } from "./data-dir-check.js";
import { devicesCheck } from "./devices-check.js";
import { groupCheck } from "./group-check.js";
import { type ModeFinding, modeCheck, notNeededForVirtual } from "./mode-check.js";
import { nativeModulesCheck } from "./native-check.js";
import { nodeCheck } from "./node-check.js";
import { runChecks } from "./run-checks.js";
import { type DoctorCheck, type DoctorReport, skip } from "./types.js";
import { udevRulesCheck } from "./udev-check.js";

export { doctorText } from "./render.js";
export type { CheckResult, CheckStatus, DoctorReport } from "./types.js";

export interface DoctorOptions {
  dataDir?: string;
  url?: string;
  config?: string;
  env: NodeJS.ProcessEnv;
}

async function loadConfiguration(options: DoctorOptions): Promise<ConfigLoad> {
  try {
    const { loadConfig } = await import("../../config/load.js");
    return {
      loaded: loadConfig({
        flags: { dataDir: options.dataDir },
        env: options.env,
        ...(options.config ? { configFile: options.config } : {}),
      }),
    };
  } catch (error) {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/** Which keys the daemon serves: daemon.json says for a daemon that ran, the configuration otherwise. */
function modeOf(dataDir: string, configured: "real" | "virtual" | undefined): ModeFinding {
  let info: ReturnType<typeof readDaemonInfo>;
  try {
    info = readDaemonInfo(dataDir);
  } catch {
    // The daemon check reports an unreadable daemon.json; the mode falls back to the configuration.
    info = undefined;
  }
  if (info !== undefined) return { mode: info.mode, from: `the daemon at ${info.url} (pid ${info.pid})` };
  return { mode: configured ?? "real", from: "the configuration (no daemon.json: no daemon has run here)" };
}

/** The checks of `keybridge doctor` with this machine's real inputs, in the order they are shown. */
export async function doctorChecks(options: DoctorOptions): Promise<DoctorCheck[]> {
  const load = await loadConfiguration(options);
  const config = "loaded" in load ? load.loaded.config : undefined;
  // A broken configuration must not hide the other checks: fall back to the CLI's own resolution.
  const dataDir =
    config?.dataDir ?? options.dataDir ?? (options.env.KEYBRIDGE_DATA_DIR || undefined) ?? defaultDataDir(options.env);
  const daemonFile = join(dataDir, DAEMON_FILE_NAME);
  const mode = modeOf(dataDir, config?.mode);
  // USB access matters to real keys only: with virtual keys a missing udev rule is worth a warning, not a failure.
  const forKeys = (check: DoctorCheck) => (mode.mode === "virtual" ? notNeededForVirtual(check) : check);
  const codemeter = await codeMeterChecks({ env: options.env, ...(config ? { config: config.codemeter } : {}) });
  return [
    modeCheck(mode),
    nodeCheck(),
    nativeModulesCheck(),
    configCheck(load),
    forKeys(udevRulesCheck()),
    forKeys(groupCheck()),
    forKeys(devicesCheck()),
    dataDirCheck({
      dataDir,
      ...(config?.registryKind === undefined ? {} : { registryKind: config.registryKind }),
      ...(config?.registryPath === undefined ? {} : { registryPath: config.registryPath }),
    }),
    ...codemeter,
    {
      id: "daemon",
      title: "daemon",
      // Resolved inside the check: a daemon.json that cannot be read is this check's finding.
      run: async (signal) => {
        let endpoint: Endpoint;
        try {
          endpoint = resolveEndpoint({ dataDir, ...(options.url ? { url: options.url } : {}) }, options.env);
        } catch (error) {
          return skip(`cannot read ${daemonFile}: ${(error as Error).message}; run \`sudo keybridge doctor\``);
        }
        return daemonCheck({ endpoint, daemonFile: { path: daemonFile, found: existsSync(daemonFile) } }).run(signal);
      },
    },
  ];
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  return runChecks(await doctorChecks(options));
}

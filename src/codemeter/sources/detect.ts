import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { posix, win32 } from "node:path";
import { loadNativeRegBackend } from "../../registry/native-reg-backend.js";
import { errnoOf } from "../errors.js";
import type { Finding } from "../model/findings.js";
import type { ConfigReading, StickSighting } from "../model/inputs.js";
import type { CodeMeterPart } from "../model/mode.js";
import { DEFAULT_CMU_COMMAND } from "./cmu.js";
import {
  defaultServerIniPath,
  defaultTrackingDir,
  IniServerConfigSource,
  ManualServerConfigSource,
  type ReadOnlyRegistryBackend,
  RegistryServerConfigSource,
  type ServerConfigSource,
  WINDOWS_SERVER_KEY,
} from "./server-config.js";
import { listStickSightings } from "./sticks.js";

/**
 * Looks at this host for the parts of a CodeMeter installation, read-only and without running
 * anything: the server configuration (read once), `cmu` (looked up on PATH as a shell would, not
 * run), the CmSticks on USB (the transport's discovery, never opened) and the License Tracking
 * directory (its `stat`). `resolveCodeMeterMode` decides from the result whether the mode runs.
 */

export interface ServerConfigSourceOptions {
  readonly platform?: NodeJS.Platform;
  readonly env?: NodeJS.ProcessEnv;
  /** Server.ini (Linux, macOS); default the platform's path. */
  readonly serverIni?: string;
  /** Windows: the registry backend to read CodeMeter's key with; default native-reg. */
  readonly registry?: ReadOnlyRegistryBackend;
}

/**
 * The configuration source of this platform: Server.ini where there is one, else (Windows)
 * CodeMeter's registry key, through native-reg unless a backend is given. Rejects when the
 * Windows registry cannot be loaded.
 */
export async function openServerConfigSource(
  options: ServerConfigSourceOptions,
): Promise<{ readonly source: ServerConfigSource; readonly where: string }> {
  const platform = options.platform ?? process.platform;
  const trackingDefault = defaultTrackingDir(platform, options.env);
  const iniPath = options.serverIni ?? defaultServerIniPath(platform);
  if (iniPath !== null) {
    return {
      source: new IniServerConfigSource({ path: iniPath, defaultTrackingDir: trackingDefault }),
      where: iniPath,
    };
  }
  const backend = options.registry ?? (await loadNativeRegBackend());
  return {
    source: new RegistryServerConfigSource({ backend, key: WINDOWS_SERVER_KEY, defaultTrackingDir: trackingDefault }),
    where: `${backend.hive}\\${WINDOWS_SERVER_KEY}`,
  };
}

export interface FindExecutableOptions {
  readonly platform?: NodeJS.Platform;
  readonly env?: NodeJS.ProcessEnv;
}

async function isExecutableFile(path: string, platform: NodeJS.Platform): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    // Windows has no execute bit: a file with an executable extension is enough.
    if (platform !== "win32") await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where `command` would run from: itself when it names a path, else the first match in PATH
 * (with the PATHEXT extensions on Windows); null when nowhere. Nothing is run.
 */
export async function findExecutable(command: string, options: FindExecutableOptions = {}): Promise<string | null> {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const path = platform === "win32" ? win32 : posix;
  const extensions =
    platform === "win32"
      ? ["", ...(env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").filter((ext) => ext !== "")]
      : [""];
  const named = platform === "win32" ? /[\\/]/.test(command) : command.includes("/");
  if (named) {
    for (const ext of extensions) if (await isExecutableFile(`${command}${ext}`, platform)) return `${command}${ext}`;
    return null;
  }
  const dirs = (env.PATH ?? env.Path ?? "").split(platform === "win32" ? ";" : ":").filter((dir) => dir !== "");
  for (const dir of dirs) {
    for (const ext of extensions) {
      const candidate = path.join(dir, `${command}${ext}`);
      if (await isExecutableFile(candidate, platform)) return candidate;
    }
  }
  return null;
}

export interface DetectOptions extends ServerConfigSourceOptions {
  /** The License Tracking directory the configuration names (codemeter.logDir); default what Server.ini says. */
  readonly logDir?: string;
  /** The cmu executable; default `cmu` on PATH. */
  readonly cmu?: string;
  /** CmSticks on USB now; default the transport's discovery over node-hid and usb. */
  readonly listSticks?: () => Promise<readonly StickSighting[]>;
  /** The USB listing is given up after this long (a hung USB stack must not hang the caller). Default 2000 ms. */
  readonly sticksTimeoutMs?: number;
}

export interface TrackingDirLookup {
  readonly path: string;
  /** Who named it: keybridge's configuration (codemeter.logDir), CodeMeter's (LogLicenseTrackingPath), or the platform default. */
  readonly from: "keybridge-config" | "server-config" | "default";
  readonly present: boolean;
  /** Why it could not be looked at (it counts as present then); null otherwise. */
  readonly error: string | null;
}

export interface CodeMeterDetection {
  readonly platform: NodeJS.Platform;
  readonly found: Readonly<Record<CodeMeterPart, boolean>>;
  readonly where: Readonly<Record<CodeMeterPart, string>>;
  /** The server configuration as read now. */
  readonly config: ConfigReading;
  /** The source that read it, to read it again. */
  readonly configSource: ServerConfigSource;
  /** The command cmu is run as (`cmu`, or the configured path). */
  readonly cmuCommand: string;
  /** Where it was found; null when it was not. */
  readonly cmuPath: string | null;
  readonly sticks: readonly StickSighting[];
  /** Why the sticks could not be listed (they count as none then); null when they were listed. */
  readonly sticksError: string | null;
  readonly trackingDir: TrackingDirLookup;
}

function configMissing(reading: ConfigReading): boolean {
  return reading.kind === "missing";
}

async function lookAtDir(path: string): Promise<{ present: boolean; error: string | null }> {
  try {
    return { present: (await stat(path)).isDirectory(), error: null };
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === "ENOENT" || errno === "ENOTDIR") return { present: false, error: null };
    // It is there, but a parent may not be searched: present for the decision, the reason kept.
    return { present: true, error: errno ?? String(error) };
  }
}

async function sticksWithin(
  list: () => Promise<readonly StickSighting[]>,
  timeoutMs: number,
): Promise<{ sticks: readonly StickSighting[]; error: string | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the USB listing did not answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    return { sticks: await Promise.race([list(), timedOut]), error: null };
  } catch (error) {
    const cause = (error as Error).cause;
    const reason = cause instanceof Error ? `${(error as Error).message}: ${cause.message}` : (error as Error).message;
    return { sticks: [], error: reason };
  } finally {
    clearTimeout(timer);
  }
}

export async function detectCodeMeter(options: DetectOptions = {}): Promise<CodeMeterDetection> {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  let configSource: ServerConfigSource;
  let configWhere: string;
  try {
    ({ source: configSource, where: configWhere } = await openServerConfigSource({ ...options, platform, env }));
  } catch (error) {
    configWhere = `HKLM\\${WINDOWS_SERVER_KEY}`;
    const finding: Finding = {
      code: "config-registry-unreadable",
      message: `${configWhere} cannot be read: ${(error as Error).message}`,
      where: configWhere,
    };
    configSource = new ManualServerConfigSource({ kind: "failed", finding });
  }
  const cmuCommand = options.cmu ?? DEFAULT_CMU_COMMAND;
  const [config, cmuPath, sticks] = await Promise.all([
    configSource.read(),
    findExecutable(cmuCommand, { platform, env }),
    sticksWithin(options.listSticks ?? (() => listStickSightings()), options.sticksTimeoutMs ?? 2000),
  ]);
  let tracking: Omit<TrackingDirLookup, "present" | "error">;
  if (options.logDir !== undefined) tracking = { path: options.logDir, from: "keybridge-config" };
  else if (config.kind === "ok" && config.config.tracking.dirSetting !== null) {
    tracking = { path: config.config.tracking.dir, from: "server-config" };
  } else tracking = { path: defaultTrackingDir(platform, env), from: "default" };
  const dir = await lookAtDir(tracking.path);
  const cmuWhere = cmuCommand === DEFAULT_CMU_COMMAND ? "cmu on PATH" : cmuCommand;
  return {
    platform,
    found: {
      serverConfig: !configMissing(config),
      cmu: cmuPath !== null,
      stick: sticks.sticks.length > 0,
      trackingDir: dir.present,
    },
    where: { serverConfig: configWhere, cmu: cmuWhere, stick: "USB", trackingDir: tracking.path },
    config,
    configSource,
    cmuCommand,
    cmuPath,
    sticks: sticks.sticks,
    sticksError: sticks.error,
    trackingDir: { ...tracking, ...dir },
  };
}

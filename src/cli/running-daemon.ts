import { readDaemonInfo } from "../server/daemon-files.js";
import { ApiClient, type Endpoint } from "./client.js";

/** The daemon that answers at the CLI's endpoint, as `config` shows it beside the configuration. */
export interface RunningDaemon {
  url: string;
  mode: string;
  version: string | null;
  /** From daemon.json, when it names this URL. */
  pid: number | null;
  started: string | null;
}

const HEALTH_TIMEOUT_MS = 2_000;

/** Asks the endpoint's `/v1/health`: the daemon answering there, or why none does. */
export async function findRunningDaemon(endpoint: Endpoint, dataDir: string): Promise<RunningDaemon | string> {
  let health: { status: string; mode: string; version?: string };
  try {
    health = await new ApiClient(endpoint).health(AbortSignal.timeout(HEALTH_TIMEOUT_MS));
  } catch (error) {
    // Not running, not reachable or not trusted: the answer `config` shows is why.
    return (error as Error).message;
  }
  if (health.status !== "ok" || typeof health.mode !== "string") {
    return `${endpoint.url} answers, but not as a keybridge daemon`;
  }
  let info: ReturnType<typeof readDaemonInfo>;
  try {
    info = readDaemonInfo(dataDir);
  } catch {
    // An unreadable daemon.json only costs the pid and start time.
    info = undefined;
  }
  const same = info !== undefined && info.url.replace(/\/+$/, "") === endpoint.url;
  return {
    url: endpoint.url,
    mode: health.mode,
    version: health.version ?? null,
    pid: same ? (info?.pid ?? null) : null,
    started: same ? (info?.started ?? null) : null,
  };
}

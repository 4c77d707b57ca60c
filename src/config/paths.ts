import { homedir } from "node:os";
import { join } from "node:path";

/** `/var/lib/keybridge` for root (the system service), else the XDG state directory of the user. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (typeof process.getuid === "function" && process.getuid() === 0) return "/var/lib/keybridge";
  const stateHome = env.XDG_STATE_HOME;
  if (stateHome !== undefined && stateHome !== "") return join(stateHome, "keybridge");
  return join(env.HOME ?? homedir(), ".local", "state", "keybridge");
}

export const CONFIG_FILE_NAME = "keybridge.json";
export const TOKEN_FILE_NAME = "api-token";
export const DAEMON_FILE_NAME = "daemon.json";
export const DEFAULT_LISTEN = "127.0.0.1:22380";

import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DAEMON_FILE_NAME, TOKEN_FILE_NAME } from "../config/paths.js";
import { DaemonFileError } from "./errors.js";

export interface DaemonInfo {
  pid: number;
  url: string;
  started: string;
  mode: "real" | "virtual";
  version: string;
  /** The certificate the daemon serves HTTPS with: clients on this host trust it for `url`. */
  tlsCert?: string;
}

function ioError(action: string, file: string, error: unknown): DaemonFileError {
  return new DaemonFileError(`cannot ${action} ${file}: ${(error as Error).message}`, file, error);
}

/** The API token: 32 random bytes, base64url, made at first start in `<dataDir>/api-token` (0600). */
export function readOrCreateToken(dataDir: string): { token: string; file: string; created: boolean } {
  const file = join(dataDir, TOKEN_FILE_NAME);
  try {
    const token = readFileSync(file, "utf8").trim();
    if (token !== "") return { token, file, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("read", file, error);
  }
  const token = randomBytes(32).toString("base64url");
  writeOwnerOnly(file, `${token}\n`);
  return { token, file, created: true };
}

export function readToken(dataDir: string): string | undefined {
  try {
    const token = readFileSync(join(dataDir, TOKEN_FILE_NAME), "utf8").trim();
    return token === "" ? undefined : token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError("read", join(dataDir, TOKEN_FILE_NAME), error);
  }
}

export function writeDaemonInfo(dataDir: string, info: DaemonInfo): string {
  const file = join(dataDir, DAEMON_FILE_NAME);
  writeOwnerOnly(file, `${JSON.stringify(info, null, 2)}\n`);
  return file;
}

export function readDaemonInfo(dataDir: string): DaemonInfo | undefined {
  const file = join(dataDir, DAEMON_FILE_NAME);
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<DaemonInfo>;
    return typeof parsed.url === "string" && typeof parsed.pid === "number" ? (parsed as DaemonInfo) : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || error instanceof SyntaxError) return undefined;
    throw ioError("read", file, error);
  }
}

/** Removes daemon.json only if it still names this process (a newer daemon may have replaced it). */
export function removeDaemonInfo(dataDir: string, pid: number): void {
  const info = readDaemonInfo(dataDir);
  if (info === undefined || info.pid !== pid) return;
  rmSync(join(dataDir, DAEMON_FILE_NAME), { force: true });
}

function writeOwnerOnly(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, text, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw ioError("write", file, error);
  }
}

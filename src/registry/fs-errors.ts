import type { KeybridgeError } from "../errors.js";
import { RegistryAccessDeniedError, RegistryIoError } from "./errors.js";

export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Maps a Node fs error at the point it enters the registry layer to an error an admin can act on. */
export function mapFsError(error: unknown, action: string, path: string): KeybridgeError {
  const code = errnoCode(error);
  const details = { path, action, errno: code };
  switch (code) {
    case "EACCES":
    case "EPERM":
      return new RegistryAccessDeniedError(
        `Permission denied to ${action} ${path}: run keybridge as the user that owns it, or choose another registry path`,
        { cause: error, details },
      );
    case "EROFS":
      return new RegistryAccessDeniedError(
        `Cannot ${action} ${path}: the file system is read-only; choose a registry path on a writable disk`,
        { cause: error, details },
      );
    case "ENOSPC":
    case "EDQUOT":
      return new RegistryIoError(`Cannot ${action} ${path}: the disk or quota is full; free space and retry`, {
        cause: error,
        details,
      });
    case "ENOTDIR":
    case "EISDIR":
      return new RegistryIoError(`Cannot ${action} ${path}: a path component is not of the expected kind (${code})`, {
        cause: error,
        details,
      });
    default:
      return new RegistryIoError(`Cannot ${action} ${path}: ${code ?? String(error)}`, { cause: error, details });
  }
}

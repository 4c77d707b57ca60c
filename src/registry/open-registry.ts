import { RegistryInvalidArgumentError } from "./errors.js";
import { IniRegistry } from "./ini-registry.js";
import { MemoryRegistry } from "./memory-registry.js";
import { loadNativeRegBackend } from "./native-reg-backend.js";
import type { RegistryAdapter, RegistryKind } from "./types.js";
import { WindowsRegistry } from "./windows-registry.js";

export interface OpenRegistryOptions {
  /** Default: `windows` on Windows, `ini` elsewhere. */
  kind?: RegistryKind;
  /** The INI file (ignored by the other kinds). */
  path?: string;
  /** How long an INI write waits for another process's lock. */
  lockTimeoutMs?: number;
}

export function defaultRegistryKind(platform: NodeJS.Platform = process.platform): RegistryKind {
  return platform === "win32" ? "windows" : "ini";
}

export async function openRegistry(options: OpenRegistryOptions = {}): Promise<RegistryAdapter> {
  const kind = options.kind ?? defaultRegistryKind();
  switch (kind) {
    case "ini":
      return new IniRegistry({ path: options.path, lockTimeoutMs: options.lockTimeoutMs });
    case "memory":
      return new MemoryRegistry();
    case "windows":
      return new WindowsRegistry(await loadNativeRegBackend());
    default:
      throw new RegistryInvalidArgumentError(`Unknown registry kind "${String(kind)}"; use ini, windows or memory`);
  }
}

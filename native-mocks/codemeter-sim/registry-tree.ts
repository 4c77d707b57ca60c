import type { IniSectionText } from "./files.js";

/**
 * The simulated server's configuration as CodeMeter keeps it on Windows: the key below HKLM with
 * `RuntimeVersion` on it and one subkey per Server.ini section, holding the same names and values.
 * Numbers are DWORDs, everything else strings (the Borrow sections' made-up content included).
 * SYNTHETIC: written by the simulator into a fake registry backend, never into a real registry.
 */

/** Below HKLM, as on a Windows CodeMeter server. */
export const SIM_WINDOWS_SERVER_KEY = "SOFTWARE\\WIBU-SYSTEMS\\CodeMeter\\Server\\CurrentVersion";

/** The value types the simulator writes (a subset of keybridge's registry backend's). */
export type SimRegistryValue =
  | { readonly kind: "REG_SZ"; readonly data: string }
  | { readonly kind: "REG_DWORD"; readonly data: number };

/**
 * What the simulator needs of a registry backend to lay its key out; keybridge's Windows registry
 * backend (and its fake) has this shape. Named here because native-mocks may not import the registry layer.
 */
export interface RegistryTreeWriter {
  createKey(path: string): void;
  setValue(path: string, name: string, value: SimRegistryValue): void;
  deleteTree(path: string): boolean;
}

function registryValue(text: string): SimRegistryValue {
  return /^\d{1,9}$/.test(text) ? { kind: "REG_DWORD", data: Number(text) } : { kind: "REG_SZ", data: text };
}

/** Replaces the key with the given sections (none: the key is removed, as an uninstall does). */
export function writeRegistryTree(
  writer: RegistryTreeWriter,
  sections: readonly IniSectionText[] | null,
  runtimeVersion: string,
  key: string = SIM_WINDOWS_SERVER_KEY,
): void {
  writer.deleteTree(key);
  if (sections === null) return;
  writer.createKey(key);
  writer.setValue(key, "RuntimeVersion", { kind: "REG_SZ", data: runtimeVersion });
  for (const section of sections) {
    const path = `${key}\\${section.name}`;
    writer.createKey(path);
    for (const [name, value] of section.values) writer.setValue(path, name, registryValue(value));
  }
}

import { RegistryInvalidArgumentError } from "./errors.js";
import { isStorableText } from "./text.js";

/** Every keybridge path lies under this key (`HKLM\SOFTWARE\keybridge` on Windows). */
export const REGISTRY_ROOT = "SOFTWARE\\keybridge";

/** Where borrow records are mirrored: `Borrows\<serial>\<id>` under the root. */
export const BORROWS_PATH = `${REGISTRY_ROOT}\\Borrows`;

const MAX_KEY_NAME_LENGTH = 255;
const ROOT_PARTS = REGISTRY_ROOT.split("\\");

/**
 * Names compare case-insensitively, as on Windows. `toLowerCase` is the closest portable
 * approximation of the registry's simple upper-case folding (it never merges `ß` and `SS`).
 */
export function foldCase(name: string): string {
  return name.toLowerCase();
}

export function joinRegistryPath(...parts: string[]): string {
  return parts.join("\\");
}

/** Splits a full path into its components below the root; `[]` is the root itself. */
export function pathBelowRoot(path: string): string[] {
  if (typeof path !== "string" || path.length === 0) {
    throw new RegistryInvalidArgumentError(`Registry path must be a non-empty string under ${REGISTRY_ROOT}`);
  }
  const parts = path.split("\\");
  for (const part of parts) checkKeyName(part, path);
  if (parts.length < ROOT_PARTS.length || ROOT_PARTS.some((p, i) => foldCase(p) !== foldCase(parts[i]!))) {
    throw new RegistryInvalidArgumentError(`Registry path "${path}" is not under ${REGISTRY_ROOT}`, {
      details: { path },
    });
  }
  return parts.slice(ROOT_PARTS.length);
}

export function checkKeyName(part: string, path: string): void {
  if (part.length === 0) {
    throw new RegistryInvalidArgumentError(
      `Registry path "${path}" has an empty key name (leading, trailing or double \\)`,
      {
        details: { path },
      },
    );
  }
  if (part.length > MAX_KEY_NAME_LENGTH) {
    throw new RegistryInvalidArgumentError(
      `Registry key name longer than ${MAX_KEY_NAME_LENGTH} characters in "${path}"`,
      {
        details: { path },
      },
    );
  }
  if (!isStorableText(part)) {
    throw new RegistryInvalidArgumentError(`Registry key name in "${path}" holds a NUL or an unpaired surrogate`, {
      details: { path },
    });
  }
}

export function fullPath(partsBelowRoot: readonly string[]): string {
  return partsBelowRoot.length === 0 ? REGISTRY_ROOT : `${REGISTRY_ROOT}\\${partsBelowRoot.join("\\")}`;
}

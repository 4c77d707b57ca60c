/**
 * The few Windows registry primitives the Windows adapter needs, over full paths below HKLM
 * (e.g. `SOFTWARE\keybridge\Borrows`). Implemented by `native-reg-backend.ts` on Windows and
 * by an in-memory fake in tests. Failures throw an Error with a numeric Win32 `errno`, as
 * native-reg does.
 */
export type WindowsRawValue =
  | { readonly kind: "REG_SZ"; readonly data: string }
  | { readonly kind: "REG_DWORD"; readonly data: number }
  | { readonly kind: "REG_BINARY"; readonly data: Uint8Array }
  /** Any other registry type (REG_MULTI_SZ, REG_QWORD...), which keybridge never writes. */
  | { readonly kind: "OTHER"; readonly typeCode: number };

export type WindowsWritableValue = Exclude<WindowsRawValue, { kind: "OTHER" }>;

export const WIN32_ERROR = {
  FILE_NOT_FOUND: 2,
  ACCESS_DENIED: 5,
  INVALID_PARAMETER: 87,
  ALREADY_EXISTS: 183,
} as const;

export interface WindowsRegistryBackend {
  /** The hive, for messages: `HKLM`. */
  readonly hive: string;
  keyExists(path: string): boolean;
  /** Creates the key and any missing parents; an existing key is left as is. */
  createKey(path: string): void;
  /** `null` when the key does not exist. */
  enumSubkeys(path: string): string[] | null;
  /** `null` when the key does not exist. */
  enumValueNames(path: string): string[] | null;
  /** `null` when the key or the value does not exist. */
  getValue(path: string, name: string): WindowsRawValue | null;
  /** Throws errno 2 when the key does not exist. */
  setValue(path: string, name: string, value: WindowsWritableValue): void;
  deleteValue(path: string, name: string): boolean;
  /** Deletes the key with everything below it; `false` when it did not exist. */
  deleteTree(path: string): boolean;
  /** Renames the key's last component in place; errno 183 when the new name exists. */
  renameKey(path: string, newName: string): void;
  close(): void;
}

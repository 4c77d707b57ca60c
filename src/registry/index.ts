export {
  type BorrowsRead,
  borrowPath,
  type EntryKey,
  entryMatches,
  entryOfRow,
  entryValueLines,
  entryValues,
  isMirrored,
  type ParsedEntry,
  parseBorrowEntry,
  readBorrows,
  scanBorrowKeys,
  serialPath,
  setOps,
  treeFromRows,
  writeOps,
} from "./borrow-entries.js";
export {
  RegistryAccessDeniedError,
  RegistryClosedError,
  RegistryCorruptError,
  RegistryInvalidArgumentError,
  RegistryIoError,
  RegistryLockedError,
  RegistryUnavailableError,
  RegistryUnsupportedValueError,
} from "./errors.js";
export { encodeValueLines, valueLine } from "./ini-codec.js";
export { defaultIniRegistryPath, IniRegistry, type IniRegistryOptions } from "./ini-registry.js";
export { MemoryRegistry } from "./memory-registry.js";
export { defaultRegistryKind, type OpenRegistryOptions, openRegistry } from "./open-registry.js";
export { BORROWS_PATH, foldCase, joinRegistryPath, REGISTRY_ROOT } from "./path.js";
export type {
  RegistryAdapter,
  RegistryDescription,
  RegistryEntry,
  RegistryKeyListing,
  RegistryKind,
  RegistryOp,
  RegistryTree,
  RegistryValue,
  RegistryValueType,
} from "./types.js";
export { sameValue } from "./values.js";
export type { WindowsRawValue, WindowsRegistryBackend, WindowsWritableValue } from "./windows-backend.js";
export { WIN32_ERROR } from "./windows-backend.js";
export { STAGING_PREFIX, WindowsRegistry } from "./windows-registry.js";

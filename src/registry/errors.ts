import { KeybridgeError } from "../errors.js";

/** The stored registry content fails its checksum or does not parse; it is never read silently. */
export class RegistryCorruptError extends KeybridgeError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("REGISTRY_CORRUPT", message, options);
  }
}

/** The process may not read or write the registry (permissions, read-only file system, no elevation). */
export class RegistryAccessDeniedError extends KeybridgeError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("REGISTRY_ACCESS_DENIED", message, options);
  }
}

/** Any other I/O failure of the registry store (disk full, I/O error, unexpected native error). */
export class RegistryIoError extends KeybridgeError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("REGISTRY_IO", message, options);
  }
}

/** Another live process holds the registry's write lock longer than the wait allows. */
export class RegistryLockedError extends KeybridgeError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("REGISTRY_LOCKED", message, options);
  }
}

/** A path, name or value the registry cannot store (outside the root, empty component, DWORD out of range...). */
export class RegistryInvalidArgumentError extends KeybridgeError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("REGISTRY_INVALID_ARGUMENT", message, options);
  }
}

/** A stored value has a type keybridge does not use (e.g. REG_MULTI_SZ written by someone else). */
export class RegistryUnsupportedValueError extends KeybridgeError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("REGISTRY_UNSUPPORTED_VALUE", message, options);
  }
}

/** The adapter was closed; open a new one. */
export class RegistryClosedError extends KeybridgeError {
  constructor(message: string) {
    super("REGISTRY_CLOSED", message);
  }
}

/** The requested registry kind cannot run here (e.g. the Windows registry off Windows, native-reg missing). */
export class RegistryUnavailableError extends KeybridgeError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("REGISTRY_UNAVAILABLE", message, options);
  }
}

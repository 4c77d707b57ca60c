/** A typed registry value: the three types keybridge stores (REG_SZ, REG_DWORD, REG_BINARY on Windows). */
export type RegistryValue =
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "u32"; readonly value: number }
  | { readonly type: "binary"; readonly value: Uint8Array };

export type RegistryValueType = RegistryValue["type"];

/** A named value as listed from a key; `name` keeps the case it was first written with. */
export interface RegistryEntry {
  readonly name: string;
  readonly value: RegistryValue;
}

/**
 * A whole subtree in one plain object. Names keep their stored case; lookups in the store are
 * case-insensitive, so a tree must not hold two names that differ only in case.
 */
export interface RegistryTree {
  values: Record<string, RegistryValue>;
  subkeys: Record<string, RegistryTree>;
}

/** A key as `readKeys` lists it: its path below the listed key, its values, and whether it has subkeys. */
export interface RegistryKeyListing {
  readonly parts: readonly string[];
  /** Decoded when first read. */
  readonly values: readonly RegistryEntry[];
  readonly hasSubkeys: boolean;
  /**
   * The values as stored, in `encodeValueLines` form, where the store still holds them so (an INI
   * key not changed since the file was read): equal to `encodeValueLines(expected)` exactly when
   * the key holds those values in that order. `undefined` says nothing; compare `values` then.
   */
  readonly valueLines?: string;
}

/** One step of an atomic batch. Paths are full paths such as `SOFTWARE\keybridge\Borrows\K-1\42`. */
export type RegistryOp =
  | { readonly op: "set"; readonly path: string; readonly name: string; readonly value: RegistryValue }
  | { readonly op: "createKey"; readonly path: string }
  | { readonly op: "deleteKey"; readonly path: string }
  | { readonly op: "deleteValue"; readonly path: string; readonly name: string };

export type RegistryKind = "ini" | "windows" | "memory";

export interface RegistryDescription {
  readonly kind: RegistryKind;
  /** Where the data lives: a file path, `HKLM\SOFTWARE\keybridge`, or `memory`. */
  readonly location: string;
}

/**
 * Hierarchical keys with typed values, modelled on the Windows registry: backslash-separated
 * paths, names compared case-insensitively, and every path lies under the adapter's `root`
 * (`SOFTWARE\keybridge`). Missing keys read as empty (`undefined` / `[]`); deletes of missing
 * keys or values are no-ops that return `false`.
 */
export interface RegistryAdapter {
  /** The root every path must lie under, `SOFTWARE\keybridge`. */
  readonly root: string;
  describe(): RegistryDescription;
  get(path: string, name: string): Promise<RegistryValue | undefined>;
  /** Creates missing keys on the way. */
  set(path: string, name: string, value: RegistryValue): Promise<void>;
  createKey(path: string): Promise<void>;
  /** Recursive. Returns whether the key existed. */
  deleteKey(path: string): Promise<boolean>;
  deleteValue(path: string, name: string): Promise<boolean>;
  listSubkeys(path: string): Promise<string[]>;
  listValues(path: string): Promise<RegistryEntry[]>;
  /** The whole subtree at `path` in one read, or `undefined` when the key does not exist. */
  readTree(path: string): Promise<RegistryTree | undefined>;
  /**
   * Every key below `path` (not `path` itself), parents before their subkeys, in batches, from one
   * consistent read: the way to read a large subtree. Stores that hold the whole tree (INI, memory)
   * yield to the event loop between batches and decode values only as they list them, so a large
   * subtree is read without blocking the process or holding a second copy of the tree.
   * Nothing is listed when the key does not exist. Optional: `readTree` serves where it is absent.
   */
  readKeys?(path: string): AsyncIterable<RegistryKeyListing[]>;
  /** Applies every op in order, all or nothing. Invalid ops are rejected before anything changes. */
  applyBatch(ops: readonly RegistryOp[]): Promise<void>;
  /**
   * Replaces everything under the root with `tree` without reading the old content first, so it
   * also recovers a store whose content is corrupt (the mirror's repair from the ledger).
   */
  replaceAll(tree: RegistryTree): Promise<void>;
  close(): Promise<void>;
}

import { RegistryInvalidArgumentError } from "./errors.js";
import { forEachValueLine, type StoredValue } from "./ini-codec.js";
import { checkKeyName, foldCase, fullPath, pathBelowRoot } from "./path.js";
import type { RegistryEntry, RegistryOp, RegistryTree, RegistryValue } from "./types.js";
import { acceptValue, checkValueName, copyValue } from "./values.js";

/** An op whose path and value were validated; `parts` are the key's components below the root. */
export type PreparedOp =
  | { readonly op: "set"; readonly parts: readonly string[]; readonly name: string; readonly value: RegistryValue }
  | { readonly op: "createKey"; readonly parts: readonly string[] }
  | { readonly op: "deleteKey"; readonly parts: readonly string[] }
  | { readonly op: "deleteValue"; readonly parts: readonly string[]; readonly name: string };

/** Validates every op before any is applied, so a bad op anywhere rejects the whole batch. */
export function prepareOps(ops: readonly RegistryOp[]): PreparedOp[] {
  if (!Array.isArray(ops)) throw new RegistryInvalidArgumentError("Registry batch must be an array of operations");
  // A mirror batch names each key several times (one op per value); split and check it once.
  const pathCache = new Map<string, string[]>();
  return ops.map((op, index): PreparedOp => {
    let parts = pathCache.get(op?.path);
    if (parts === undefined) {
      parts = pathBelowRoot(op?.path);
      pathCache.set(op.path, parts);
    }
    switch (op.op) {
      case "set":
        checkValueName(op.name, op.path);
        return { op: "set", parts, name: op.name, value: acceptValue(op.value, `"${op.name}" under "${op.path}"`) };
      case "deleteValue":
        checkValueName(op.name, op.path);
        return { op: "deleteValue", parts, name: op.name };
      case "createKey":
      case "deleteKey":
        return { op: op.op, parts };
      default:
        throw new RegistryInvalidArgumentError(`Registry batch operation #${index} has unknown op`, {
          details: { index, op: (op as { op?: unknown }).op },
        });
    }
  });
}

/**
 * One key of an in-memory, case-insensitive registry tree. A key read from an INI file keeps its
 * value lines as text until a value is used: each borrow entry has seven values, and a Map and an
 * object per value would make a large registry slow to parse and its snapshot many times the
 * size of the file.
 */
export class KeyNode {
  private valueMap: Map<string, StoredValue> | undefined;
  private subkeyMap: Map<string, KeyNode> | undefined;
  /** Validated `Name=type:data` lines, `\n`-joined, not decoded yet (only while `valueMap` is unset). */
  private lines: string | undefined;

  constructor(
    readonly name: string,
    valueLines?: string,
  ) {
    if (valueLines !== undefined && valueLines.length > 0) this.lines = valueLines;
  }

  get values(): Map<string, StoredValue> {
    if (this.valueMap === undefined) {
      const map = new Map<string, StoredValue>();
      if (this.lines !== undefined)
        forEachValueLine(this.lines, (name, value) => map.set(foldCase(name), { name, value }));
      this.valueMap = map;
      this.lines = undefined;
    }
    return this.valueMap;
  }

  get subkeys(): Map<string, KeyNode> {
    this.subkeyMap ??= new Map();
    return this.subkeyMap;
  }

  get hasValues(): boolean {
    return this.lines !== undefined || (this.valueMap !== undefined && this.valueMap.size > 0);
  }

  get hasSubkeys(): boolean {
    return this.subkeyMap !== undefined && this.subkeyMap.size > 0;
  }

  /** Gives a key just read from a file its validated value lines; it has no values yet. */
  adoptValueLines(lines: string): void {
    this.valueMap = undefined;
    this.lines = lines.length > 0 ? lines : undefined;
  }

  /** The value lines as read, when no value was decoded or changed since: the serializer writes them back. */
  get valueLines(): string | undefined {
    return this.lines;
  }

  find(parts: readonly string[]): KeyNode | undefined {
    let node: KeyNode | undefined = this;
    for (const part of parts) {
      node = node.subkeyMap?.get(foldCase(part));
      if (node === undefined) return undefined;
    }
    return node;
  }

  ensure(parts: readonly string[]): KeyNode {
    let node: KeyNode = this;
    for (const part of parts) {
      const folded = foldCase(part);
      let next = node.subkeys.get(folded);
      if (next === undefined) {
        next = new KeyNode(part);
        node.subkeys.set(folded, next);
      }
      node = next;
    }
    return node;
  }

  /** Removes the key at `parts`; the node itself (`[]`) is emptied instead. */
  remove(parts: readonly string[]): boolean {
    if (parts.length === 0) {
      const hadContent = this.hasValues || this.hasSubkeys;
      this.lines = undefined;
      this.valueMap = undefined;
      this.subkeyMap = undefined;
      return hadContent;
    }
    const parent = this.find(parts.slice(0, -1));
    return parent?.subkeys.delete(foldCase(parts[parts.length - 1]!)) ?? false;
  }

  getValue(name: string): RegistryValue | undefined {
    if (this.lines === undefined && this.valueMap === undefined) return undefined;
    return this.values.get(foldCase(name))?.value;
  }

  /** Keeps the case the value was first written with, as Windows does. */
  setValue(name: string, value: RegistryValue): void {
    const folded = foldCase(name);
    const existing = this.values.get(folded);
    this.values.set(folded, { name: existing?.name ?? name, value });
  }

  deleteValue(name: string): boolean {
    return this.values.delete(foldCase(name));
  }

  /** Applies a validated op; cannot fail, which is what makes batches all-or-nothing. */
  apply(op: PreparedOp): boolean {
    switch (op.op) {
      case "set":
        this.ensure(op.parts).setValue(op.name, op.value);
        return true;
      case "createKey":
        this.ensure(op.parts);
        return true;
      case "deleteKey":
        return this.remove(op.parts);
      case "deleteValue":
        return this.find(op.parts)?.deleteValue(op.name) ?? false;
    }
  }

  /** The values for a caller; read from the text without keeping them decoded when not decoded yet. */
  entries(): RegistryEntry[] {
    if (this.lines !== undefined) {
      const fresh: RegistryEntry[] = [];
      forEachValueLine(this.lines, (name, value) => fresh.push({ name, value }));
      return fresh;
    }
    return Array.from(this.values.values(), (entry) => ({ name: entry.name, value: copyValue(entry.value) }));
  }

  subkeyNames(): string[] {
    return this.subkeyMap === undefined ? [] : Array.from(this.subkeyMap.values(), (node) => node.name);
  }

  /** A copy of this key's own maps; values and subkeys are shared (see `TreeDraft`). */
  shallowClone(): KeyNode {
    const copy = new KeyNode(this.name, this.lines);
    if (this.valueMap !== undefined) for (const [folded, entry] of this.valueMap) copy.values.set(folded, entry);
    if (this.subkeyMap !== undefined) for (const [folded, node] of this.subkeyMap) copy.subkeys.set(folded, node);
    return copy;
  }

  /** Stored values are immutable (binaries are copied in and out), so a clone shares them. */
  clone(): KeyNode {
    const copy = this.shallowClone();
    if (this.subkeyMap !== undefined)
      for (const [folded, node] of this.subkeyMap) copy.subkeys.set(folded, node.clone());
    return copy;
  }

  toTree(): RegistryTree {
    const values: Record<string, RegistryValue> = Object.create(null);
    for (const entry of this.entries()) values[entry.name] = entry.value;
    const subkeys: Record<string, RegistryTree> = Object.create(null);
    if (this.subkeyMap !== undefined) for (const node of this.subkeyMap.values()) subkeys[node.name] = node.toTree();
    return { values, subkeys };
  }

  /** Builds a validated node from a caller's tree; names differing only in case are rejected. */
  static fromTree(name: string, tree: RegistryTree, parts: readonly string[] = []): KeyNode {
    const where = fullPath(parts);
    if (
      tree === null ||
      typeof tree !== "object" ||
      typeof tree.values !== "object" ||
      typeof tree.subkeys !== "object"
    ) {
      throw new RegistryInvalidArgumentError(`Registry tree at "${where}" must have "values" and "subkeys" objects`);
    }
    const node = new KeyNode(name);
    for (const [valueName, value] of Object.entries(tree.values)) {
      checkValueName(valueName, where);
      if (node.values.has(foldCase(valueName))) {
        throw new RegistryInvalidArgumentError(
          `Registry tree at "${where}" has two values named "${valueName}" (names ignore case)`,
        );
      }
      node.values.set(foldCase(valueName), {
        name: valueName,
        value: acceptValue(value, `"${valueName}" under "${where}"`),
      });
    }
    for (const [keyName, subtree] of Object.entries(tree.subkeys)) {
      checkKeyName(keyName, `${where}\\${keyName}`);
      if (node.subkeys.has(foldCase(keyName))) {
        throw new RegistryInvalidArgumentError(
          `Registry tree at "${where}" has two subkeys named "${keyName}" (names ignore case)`,
        );
      }
      node.subkeys.set(foldCase(keyName), KeyNode.fromTree(keyName, subtree, [...parts, keyName]));
    }
    return node;
  }
}

/**
 * A copy-on-write draft of a tree: only the keys on the paths a batch touches are copied, so a
 * small change to a large registry costs little, and the base tree (a cached snapshot others
 * may be reading) is never changed. With `inPlace` the base itself is changed.
 */
export class TreeDraft {
  readonly root: KeyNode;
  /** Whether any op changed something; a batch of no-ops need not be written. */
  changed = false;
  private readonly owned = new Set<KeyNode>();

  constructor(
    base: KeyNode,
    private readonly inPlace = false,
  ) {
    this.root = inPlace ? base : base.shallowClone();
    this.owned.add(this.root);
  }

  /** Applies a validated op; cannot fail, which is what makes batches all-or-nothing. */
  apply(op: PreparedOp): boolean {
    const changed = this.applyOp(op);
    this.changed ||= changed;
    return changed;
  }

  private applyOp(op: PreparedOp): boolean {
    switch (op.op) {
      case "set":
        this.walk(op.parts, true)!.setValue(op.name, op.value);
        return true;
      case "createKey": {
        const existed = this.root.find(op.parts) !== undefined;
        this.walk(op.parts, true);
        return !existed;
      }
      case "deleteKey": {
        if (op.parts.length === 0) return this.root.remove([]);
        const parent = this.walk(op.parts.slice(0, -1), false);
        return parent?.subkeys.delete(foldCase(op.parts[op.parts.length - 1]!)) ?? false;
      }
      case "deleteValue": {
        if (this.root.find(op.parts)?.getValue(op.name) === undefined) return false;
        return this.walk(op.parts, false)!.deleteValue(op.name);
      }
    }
  }

  private walk(parts: readonly string[], create: boolean): KeyNode | undefined {
    let node = this.root;
    for (const part of parts) {
      const folded = foldCase(part);
      let child = node.subkeys.get(folded);
      if (child === undefined) {
        if (!create) return undefined;
        child = new KeyNode(part);
        this.owned.add(child);
        node.subkeys.set(folded, child);
      } else if (!this.inPlace && !this.owned.has(child)) {
        child = child.shallowClone();
        this.owned.add(child);
        node.subkeys.set(folded, child);
      }
      node = child;
    }
    return node;
  }
}

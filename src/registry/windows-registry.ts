import { randomBytes } from "node:crypto";
import type { KeybridgeError } from "../errors.js";
import { SerialQueue } from "../serial-queue.js";
import {
  RegistryAccessDeniedError,
  RegistryClosedError,
  RegistryInvalidArgumentError,
  RegistryIoError,
  RegistryUnsupportedValueError,
} from "./errors.js";
import { KeyNode, type PreparedOp, prepareOps } from "./key-tree.js";
import { foldCase, fullPath, pathBelowRoot, REGISTRY_ROOT } from "./path.js";
import type {
  RegistryAdapter,
  RegistryDescription,
  RegistryEntry,
  RegistryOp,
  RegistryTree,
  RegistryValue,
} from "./types.js";
import { checkValueName, copyValue, sameValue } from "./values.js";
import {
  WIN32_ERROR,
  type WindowsRawValue,
  type WindowsRegistryBackend,
  type WindowsWritableValue,
} from "./windows-backend.js";

/** New keys are built under this name and renamed into place, so they appear complete or not at all. */
export const STAGING_PREFIX = "~kbstage-";

/** Stands for a value of a type keybridge does not write; it equals nothing, so a rewrite replaces it. */
const FOREIGN_VALUE = { type: "foreign" } as unknown as RegistryValue;

interface Plan {
  creates: { parent: string[]; node: KeyNode }[];
  sets: { parts: string[]; name: string; value: RegistryValue }[];
  valueDeletes: { parts: string[]; name: string }[];
  keyDeletes: string[][];
}

function emptyPlan(): Plan {
  return { creates: [], sets: [], valueDeletes: [], keyDeletes: [] };
}

function isStaging(name: string): boolean {
  return foldCase(name).startsWith(STAGING_PREFIX);
}

function toWindows(value: RegistryValue): WindowsWritableValue {
  switch (value.type) {
    case "string":
      return { kind: "REG_SZ", data: value.value };
    case "u32":
      return { kind: "REG_DWORD", data: value.value };
    case "binary":
      return { kind: "REG_BINARY", data: value.value };
  }
}

/**
 * The registry under `HKLM\SOFTWARE\keybridge`. Windows offers no transaction across keys here,
 * so a batch is computed as a difference between the current and the final subtree and written
 * in an order that never shows a half-written entry: new keys are built under a staging name
 * and renamed into place, then changed values are written one by one (each is atomic), and
 * deletions come last.
 */
export class WindowsRegistry implements RegistryAdapter {
  readonly root = REGISTRY_ROOT;
  private closed = false;
  private readonly writes = new SerialQueue();

  constructor(private readonly backend: WindowsRegistryBackend) {}

  describe(): RegistryDescription {
    return { kind: "windows", location: `${this.backend.hive}\\${REGISTRY_ROOT}` };
  }

  async get(path: string, name: string): Promise<RegistryValue | undefined> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    checkValueName(name, path);
    const raw = this.call("read", fullPath(parts), () => this.backend.getValue(fullPath(parts), name));
    return raw === null ? undefined : this.fromWindows(raw, parts, name, true);
  }

  async set(path: string, name: string, value: RegistryValue): Promise<void> {
    await this.applyBatch([{ op: "set", path, name, value }]);
  }

  async createKey(path: string): Promise<void> {
    await this.applyBatch([{ op: "createKey", path }]);
  }

  async deleteKey(path: string): Promise<boolean> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    const key = fullPath(parts);
    const existed =
      parts.length === 0
        ? (await this.listSubkeys(path)).length > 0 || (await this.listValues(path)).length > 0
        : this.call("read", key, () => this.backend.keyExists(key));
    await this.applyBatch([{ op: "deleteKey", path }]);
    return existed;
  }

  async deleteValue(path: string, name: string): Promise<boolean> {
    const existed = (await this.get(path, name)) !== undefined;
    await this.applyBatch([{ op: "deleteValue", path, name }]);
    return existed;
  }

  async listSubkeys(path: string): Promise<string[]> {
    this.assertOpen();
    const key = fullPath(pathBelowRoot(path));
    return (this.call("list", key, () => this.backend.enumSubkeys(key)) ?? []).filter((name) => !isStaging(name));
  }

  async listValues(path: string): Promise<RegistryEntry[]> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    return this.readNode(parts, true)?.entries() ?? [];
  }

  async readTree(path: string): Promise<RegistryTree | undefined> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    return (this.readNode(parts, true) ?? (parts.length === 0 ? new KeyNode("") : undefined))?.toTree();
  }

  async applyBatch(ops: readonly RegistryOp[]): Promise<void> {
    this.assertOpen();
    const prepared = prepareOps(ops);
    if (prepared.length === 0) return;
    await this.exclusive(() => this.writeBatch(prepared));
  }

  async replaceAll(tree: RegistryTree): Promise<void> {
    this.assertOpen();
    const final = KeyNode.fromTree("", tree);
    await this.exclusive(() => {
      this.call("write", REGISTRY_ROOT, () => this.backend.createKey(REGISTRY_ROOT));
      const stale: string[][] = [];
      const current = this.readNode([], false, stale) ?? new KeyNode("");
      const plan = emptyPlan();
      this.diff(current, final, [], plan);
      plan.keyDeletes.push(...stale);
      this.execute(plan);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.idle();
    this.backend.close();
  }

  private writeBatch(ops: PreparedOp[]): void {
    if (this.onlyValuesOfExistingKeys(ops)) {
      // Each value write is atomic on its own; no key appears or disappears.
      for (const op of ops) {
        const key = fullPath(op.parts);
        if (op.op === "set") this.call("write", key, () => this.backend.setValue(key, op.name, toWindows(op.value)));
        else if (op.op === "deleteValue") this.call("write", key, () => this.backend.deleteValue(key, op.name));
      }
      return;
    }
    const cover = commonPrefix(ops.map((op) => op.parts));
    const stale: string[][] = [];
    let current = this.readNode(cover, false, stale);
    if (current === undefined && cover.length === 0) {
      // The root always exists (as in the other stores); only what is below it is staged.
      this.call("write", REGISTRY_ROOT, () => this.backend.createKey(REGISTRY_ROOT));
      current = new KeyNode("");
    }
    let final = current?.clone();
    for (const op of ops) {
      const below = op.parts.slice(cover.length);
      if (op.op === "deleteKey" && below.length === 0) {
        final = cover.length === 0 ? new KeyNode("") : undefined;
        continue;
      }
      if (final === undefined) {
        // Deleting inside a key that does not exist changes nothing.
        if (op.op === "deleteKey" || op.op === "deleteValue") continue;
        final = new KeyNode(cover[cover.length - 1] ?? "");
      }
      final.apply({ ...op, parts: below } as PreparedOp);
    }
    const plan = emptyPlan();
    this.diff(current, final, cover, plan);
    plan.keyDeletes.push(...stale);
    this.execute(plan);
  }

  private onlyValuesOfExistingKeys(ops: PreparedOp[]): boolean {
    const checked = new Set<string>();
    for (const op of ops) {
      if (op.op !== "set" && op.op !== "deleteValue") return false;
      const key = fullPath(op.parts);
      if (checked.has(foldCase(key))) continue;
      if (!this.call("read", key, () => this.backend.keyExists(key))) return false;
      checked.add(foldCase(key));
    }
    return true;
  }

  private diff(current: KeyNode | undefined, final: KeyNode | undefined, parts: string[], plan: Plan): void {
    if (final === undefined) {
      if (current !== undefined) plan.keyDeletes.push(parts);
      return;
    }
    if (current === undefined) {
      plan.creates.push({ parent: parts.slice(0, -1), node: final });
      return;
    }
    for (const [folded, { name, value }] of final.values) {
      const existing = current.values.get(folded);
      if (existing === undefined || !sameValue(existing.value, value)) plan.sets.push({ parts, name, value });
    }
    for (const [folded, { name }] of current.values) {
      if (!final.values.has(folded)) plan.valueDeletes.push({ parts, name });
    }
    for (const [folded, child] of final.subkeys) {
      this.diff(current.subkeys.get(folded), child, [...parts, current.subkeys.get(folded)?.name ?? child.name], plan);
    }
    for (const [folded, child] of current.subkeys) {
      if (!final.subkeys.has(folded)) plan.keyDeletes.push([...parts, child.name]);
    }
  }

  private execute(plan: Plan): void {
    for (const { parent, node } of plan.creates) this.createStaged(parent, node);
    for (const { parts, name, value } of plan.sets) {
      const key = fullPath(parts);
      this.call("write", key, () => this.backend.setValue(key, name, toWindows(value)));
    }
    for (const { parts, name } of plan.valueDeletes) {
      const key = fullPath(parts);
      this.call("write", key, () => this.backend.deleteValue(key, name));
    }
    for (const parts of plan.keyDeletes) {
      const key = fullPath(parts);
      this.call("delete", key, () => this.backend.deleteTree(key));
    }
  }

  private createStaged(parent: string[], node: KeyNode): void {
    const parentKey = fullPath(parent);
    this.call("write", parentKey, () => this.backend.createKey(parentKey));
    const staging = `${parentKey}\\${STAGING_PREFIX}${randomBytes(6).toString("hex")}`;
    this.writeWhole(staging, node);
    this.call("write", staging, () => this.backend.renameKey(staging, node.name));
  }

  private writeWhole(key: string, node: KeyNode): void {
    this.call("write", key, () => this.backend.createKey(key));
    for (const { name, value } of node.values.values()) {
      this.call("write", key, () => this.backend.setValue(key, name, toWindows(value)));
    }
    for (const child of node.subkeys.values()) this.writeWhole(`${key}\\${child.name}`, child);
  }

  /**
   * Reads a subtree. `strict` reads fail on foreign value types; planning reads keep them as
   * values that a rewrite replaces, and report leftover staging keys through `stale`.
   */
  private readNode(parts: string[], strict: boolean, stale: string[][] = []): KeyNode | undefined {
    const key = fullPath(parts);
    const valueNames = this.call("list", key, () => this.backend.enumValueNames(key));
    if (valueNames === null) return undefined;
    const node = new KeyNode(parts[parts.length - 1] ?? "");
    for (const name of valueNames) {
      const raw = this.call("read", key, () => this.backend.getValue(key, name));
      if (raw !== null) node.setValue(name, this.fromWindows(raw, parts, name, strict));
    }
    for (const name of this.call("list", key, () => this.backend.enumSubkeys(key)) ?? []) {
      if (isStaging(name)) {
        stale.push([...parts, name]);
        continue;
      }
      const child = this.readNode([...parts, name], strict, stale);
      if (child !== undefined) node.subkeys.set(foldCase(name), child);
    }
    return node;
  }

  private fromWindows(raw: WindowsRawValue, parts: string[], name: string, strict: boolean): RegistryValue {
    switch (raw.kind) {
      case "REG_SZ":
        return { type: "string", value: raw.data };
      case "REG_DWORD":
        return { type: "u32", value: raw.data };
      case "REG_BINARY":
        return copyValue({ type: "binary", value: raw.data });
      case "OTHER":
        if (!strict) return FOREIGN_VALUE;
        throw new RegistryUnsupportedValueError(
          `Registry value "${name}" under ${this.backend.hive}\\${fullPath(parts)} has type ${raw.typeCode}, which keybridge does not use; delete it or let keybridge rewrite the key`,
          { details: { path: fullPath(parts), name, typeCode: raw.typeCode } },
        );
    }
  }

  private exclusive(work: () => void): Promise<void> {
    return this.writes.run(work);
  }

  private call<T>(action: string, key: string, operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      throw this.mapError(error, action, key);
    }
  }

  private mapError(error: unknown, action: string, key: string): KeybridgeError {
    const where = `${this.backend.hive}\\${key}`;
    const errno = (error as { errno?: unknown } | null)?.errno;
    const details = { key: where, action, errno };
    if (errno === WIN32_ERROR.ACCESS_DENIED) {
      return new RegistryAccessDeniedError(
        `Access denied to ${action} ${where}: run the keybridge service as LocalSystem or an administrator`,
        { cause: error, details },
      );
    }
    if (errno === WIN32_ERROR.INVALID_PARAMETER) {
      return new RegistryInvalidArgumentError(`The registry refused to ${action} ${where}: invalid parameter`, {
        cause: error,
        details,
      });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new RegistryIoError(`Cannot ${action} ${where}: ${message}`, { cause: error, details });
  }

  private assertOpen(): void {
    if (this.closed) throw new RegistryClosedError(`Registry ${this.describe().location} is closed`);
  }
}

function commonPrefix(paths: readonly (readonly string[])[]): string[] {
  const [first, ...rest] = paths;
  const prefix = [...(first ?? [])];
  for (const parts of rest) {
    let length = 0;
    while (length < prefix.length && length < parts.length && foldCase(prefix[length]!) === foldCase(parts[length]!)) {
      length++;
    }
    prefix.length = length;
  }
  return prefix;
}

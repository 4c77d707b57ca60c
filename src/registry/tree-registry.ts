import { RegistryClosedError } from "./errors.js";
import { KeyNode, prepareOps, type TreeDraft } from "./key-tree.js";
import { pathBelowRoot, REGISTRY_ROOT } from "./path.js";
import type {
  RegistryAdapter,
  RegistryDescription,
  RegistryEntry,
  RegistryKeyListing,
  RegistryOp,
  RegistryTree,
  RegistryValue,
} from "./types.js";
import { checkValueName, copyValue } from "./values.js";

/** A key of a snapshot as `readKeys` lists it; values are decoded only when asked for. */
class NodeListing implements RegistryKeyListing {
  private decoded: readonly RegistryEntry[] | undefined;
  readonly hasSubkeys: boolean;
  readonly valueLines: string | undefined;

  constructor(
    readonly parts: readonly string[],
    private readonly node: KeyNode,
  ) {
    this.hasSubkeys = node.hasSubkeys;
    this.valueLines = node.valueLines;
  }

  get values(): readonly RegistryEntry[] {
    this.decoded ??= this.node.entries();
    return this.decoded;
  }
}

/** Keys listed by `readKeys` between two yields to the event loop. */
const KEYS_PER_BATCH = 2_000;

/**
 * The part shared by the stores that hold the whole tree at once (memory and INI file): every
 * read looks at a snapshot, every write is one all-or-nothing update of the tree.
 */
export abstract class TreeRegistry implements RegistryAdapter {
  readonly root = REGISTRY_ROOT;
  private closed = false;

  abstract describe(): RegistryDescription;
  /** The current tree; callers only read it. */
  protected abstract snapshot(): Promise<KeyNode>;
  /** Runs `mutate` on a draft of the current tree and stores the result atomically. */
  protected abstract update<T>(mutate: (draft: TreeDraft) => T): Promise<T>;
  /** Stores `root` as the whole tree without reading the current one. */
  protected abstract replace(root: KeyNode): Promise<void>;
  protected abstract release(): Promise<void>;

  async get(path: string, name: string): Promise<RegistryValue | undefined> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    checkValueName(name, path);
    const value = (await this.snapshot()).find(parts)?.getValue(name);
    return value === undefined ? undefined : copyValue(value);
  }

  async set(path: string, name: string, value: RegistryValue): Promise<void> {
    await this.applyBatch([{ op: "set", path, name, value }]);
  }

  async createKey(path: string): Promise<void> {
    await this.applyBatch([{ op: "createKey", path }]);
  }

  async deleteKey(path: string): Promise<boolean> {
    return this.applyOne({ op: "deleteKey", path });
  }

  async deleteValue(path: string, name: string): Promise<boolean> {
    return this.applyOne({ op: "deleteValue", path, name });
  }

  async listSubkeys(path: string): Promise<string[]> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    return (await this.snapshot()).find(parts)?.subkeyNames() ?? [];
  }

  async listValues(path: string): Promise<RegistryEntry[]> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    return (await this.snapshot()).find(parts)?.entries() ?? [];
  }

  async readTree(path: string): Promise<RegistryTree | undefined> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    return (await this.snapshot()).find(parts)?.toTree();
  }

  async *readKeys(path: string): AsyncIterable<RegistryKeyListing[]> {
    this.assertOpen();
    const parts = pathBelowRoot(path);
    const top = (await this.snapshot()).find(parts);
    if (top === undefined) return;
    // Depth first over the snapshot's own maps: the INI store never changes a snapshot in place.
    const stack: { children: Iterator<KeyNode>; parts: readonly string[] }[] = [];
    if (top.hasSubkeys) stack.push({ children: top.subkeys.values(), parts: [] });
    let batch: RegistryKeyListing[] = [];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const next = frame.children.next();
      if (next.done === true) {
        stack.pop();
        continue;
      }
      const node = next.value;
      const at = [...frame.parts, node.name];
      batch.push(new NodeListing(at, node));
      if (node.hasSubkeys) stack.push({ children: node.subkeys.values(), parts: at });
      if (batch.length >= KEYS_PER_BATCH) {
        yield batch;
        batch = [];
        await new Promise((resolve) => setImmediate(resolve));
        this.assertOpen();
      }
    }
    if (batch.length > 0) yield batch;
  }

  async applyBatch(ops: readonly RegistryOp[]): Promise<void> {
    this.assertOpen();
    const prepared = prepareOps(ops);
    if (prepared.length === 0) return;
    await this.update((draft) => {
      for (const op of prepared) draft.apply(op);
    });
  }

  async replaceAll(tree: RegistryTree): Promise<void> {
    this.assertOpen();
    await this.replace(KeyNode.fromTree("", tree));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }

  protected assertOpen(): void {
    if (this.closed) throw new RegistryClosedError(`Registry ${this.describe().location} is closed`);
  }

  private async applyOne(op: RegistryOp): Promise<boolean> {
    this.assertOpen();
    const [prepared] = prepareOps([op]);
    return this.update((draft) => draft.apply(prepared!));
  }
}

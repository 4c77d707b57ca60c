import { KeyNode, TreeDraft } from "./key-tree.js";
import { TreeRegistry } from "./tree-registry.js";
import type { RegistryDescription } from "./types.js";

/**
 * A registry in process memory with the same semantics as the INI store, for tests and the
 * virtual mode. `wipe()` simulates the registry being lost (OS reinstall, driver removal).
 */
export class MemoryRegistry extends TreeRegistry {
  private tree = new KeyNode("");

  describe(): RegistryDescription {
    return { kind: "memory", location: "memory" };
  }

  /** Forgets every key and value, as a lost registry would. */
  wipe(): void {
    this.tree = new KeyNode("");
  }

  protected async snapshot(): Promise<KeyNode> {
    return this.tree;
  }

  // Validated ops cannot fail half-way, so the tree is changed in place without a copy.
  protected async update<T>(mutate: (draft: TreeDraft) => T): Promise<T> {
    return mutate(new TreeDraft(this.tree, true));
  }

  protected async replace(root: KeyNode): Promise<void> {
    this.tree = root;
  }

  protected async release(): Promise<void> {}
}

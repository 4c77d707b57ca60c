import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  IniRegistry,
  MemoryRegistry,
  type RegistryAdapter,
  type RegistryTree,
  WindowsRegistry,
} from "../../../src/registry/index.js";
import { FakeWindowsBackend } from "./fake-windows-backend.js";

export interface AdapterFixture {
  name: string;
  open(): Promise<{ registry: RegistryAdapter; cleanup(): Promise<void> }>;
}

export const adapterFixtures: AdapterFixture[] = [
  {
    name: "memory",
    async open() {
      const registry = new MemoryRegistry();
      return { registry, cleanup: () => registry.close() };
    },
  },
  {
    name: "ini",
    async open() {
      const dir = await mkdtemp(join(tmpdir(), "kb-registry-"));
      const registry = new IniRegistry({ path: join(dir, "state", "registry.ini") });
      return {
        registry,
        async cleanup() {
          await registry.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "windows (fake backend)",
    async open() {
      const registry = new WindowsRegistry(new FakeWindowsBackend());
      return { registry, cleanup: () => registry.close() };
    },
  },
];

/** A tree with every name lower-cased, for comparing stores whose case-keeping may differ on rewrites. */
export function foldTree(tree: RegistryTree | undefined): unknown {
  if (tree === undefined) return undefined;
  const values = Object.fromEntries(
    Object.entries(tree.values)
      .map(([name, value]) => [name.toLowerCase(), value] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const subkeys = Object.fromEntries(
    Object.entries(tree.subkeys)
      .map(([name, sub]) => [name.toLowerCase(), foldTree(sub)] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  return { values, subkeys };
}

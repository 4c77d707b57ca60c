import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RegistryAdapter, RegistryKeyListing, RegistryTree } from "../../../src/registry/index.js";
import { adapterFixtures } from "./adapters.js";

const ROOT = "SOFTWARE\\keybridge";

/** Every key below the tree's top as `a\b: name=value;...`, the way readKeys lists them. */
function flattenTree(tree: RegistryTree | undefined, at: string[] = []): string[] {
  if (tree === undefined) return [];
  const lines: string[] = [];
  for (const [name, sub] of Object.entries(tree.subkeys)) {
    const parts = [...at, name];
    lines.push(describeKey(parts, Object.entries(sub.values), Object.keys(sub.subkeys).length > 0));
    lines.push(...flattenTree(sub, parts));
  }
  return lines;
}

function describeKey(parts: readonly string[], values: [string, unknown][], hasSubkeys: boolean): string {
  const shown = values.map(
    ([name, value]) => `${name}=${JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v))}`,
  );
  return `${parts.join("\\")}${hasSubkeys ? "\\" : ""}: ${shown.sort().join(";")}`;
}

async function listKeys(registry: RegistryAdapter, path: string): Promise<{ lines: string[]; batches: number }> {
  const lines: string[] = [];
  let batches = 0;
  if (registry.readKeys === undefined) return { lines: flattenTree(await registry.readTree(path)), batches };
  for await (const batch of registry.readKeys(path)) {
    batches++;
    for (const key of batch as RegistryKeyListing[]) {
      lines.push(
        describeKey(
          key.parts,
          key.values.map((entry) => [entry.name, entry.value]),
          key.hasSubkeys,
        ),
      );
    }
  }
  return { lines, batches };
}

describe.each(adapterFixtures)("readKeys: $name", (fixture) => {
  let registry: RegistryAdapter;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ registry, cleanup } = await fixture.open());
  });
  afterEach(async () => {
    await cleanup();
  });

  it("lists the same keys and values as readTree, parents first", async () => {
    await registry.applyBatch([
      { op: "set", path: `${ROOT}\\Borrows\\K-1\\1`, name: "Product", value: { type: "u32", value: 1 } },
      {
        op: "set",
        path: `${ROOT}\\Borrows\\K-1\\1`,
        name: "Tag",
        value: { type: "binary", value: Uint8Array.of(1, 2) },
      },
      { op: "set", path: `${ROOT}\\Borrows\\K-1\\2`, name: "Client", value: { type: "string", value: "a=b;%c" } },
      { op: "createKey", path: `${ROOT}\\Borrows\\K-2` },
      { op: "set", path: `${ROOT}\\Borrows`, name: "Note", value: { type: "string", value: "top" } },
    ]);
    const { lines } = await listKeys(registry, `${ROOT}\\Borrows`);
    expect([...lines].sort()).toEqual(flattenTree(await registry.readTree(`${ROOT}\\Borrows`)).sort());
    expect(lines).toContain("K-2: ");
    const parent = lines.findIndex((line) => line.startsWith("K-1\\:"));
    expect(parent).toBeGreaterThanOrEqual(0);
    expect(lines.findIndex((line) => line.startsWith("K-1\\1:"))).toBeGreaterThan(parent);
    expect((await listKeys(registry, `${ROOT}\\Nowhere`)).lines).toEqual([]);
  });

  it("lists a large subtree in several batches", async () => {
    const ops = Array.from({ length: 5_000 }, (_, i) => ({
      op: "set" as const,
      path: `${ROOT}\\Borrows\\K-1\\${i + 1}`,
      name: "Product",
      value: { type: "u32" as const, value: i },
    }));
    await registry.applyBatch(ops);
    const { lines, batches } = await listKeys(registry, `${ROOT}\\Borrows`);
    expect(lines).toHaveLength(5_001);
    if (registry.readKeys !== undefined) expect(batches).toBeGreaterThan(1);
  });
});

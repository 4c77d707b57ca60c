import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  MemoryRegistry,
  type RegistryAdapter,
  type RegistryOp,
  type RegistryValue,
} from "../../../src/registry/index.js";
import { adapterFixtures, foldTree } from "./adapters.js";

const ROOT = "SOFTWARE\\keybridge";
const BORROW = `${ROOT}\\Borrows\\K-1\\42`;

function str(value: string): RegistryValue {
  return { type: "string", value };
}
function u32(value: number): RegistryValue {
  return { type: "u32", value };
}
function bin(...bytes: number[]): RegistryValue {
  return { type: "binary", value: Uint8Array.from(bytes) };
}

describe.each(adapterFixtures)("RegistryAdapter contract: $name", (fixture) => {
  let registry: RegistryAdapter;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ registry, cleanup } = await fixture.open());
  });
  afterEach(async () => {
    await cleanup();
  });

  it("stores and returns string, u32 and binary values", async () => {
    await registry.set(BORROW, "Client", str("ws-12.cad.local"));
    await registry.set(BORROW, "Product", u32(4_294_967_295));
    await registry.set(BORROW, "Binding", bin(0, 255, 16));
    expect(await registry.get(BORROW, "Client")).toEqual(str("ws-12.cad.local"));
    expect(await registry.get(BORROW, "Product")).toEqual(u32(4_294_967_295));
    expect(await registry.get(BORROW, "Binding")).toEqual(bin(0, 255, 16));
    expect(await registry.get(BORROW, "Missing")).toBeUndefined();
    expect(await registry.get(`${ROOT}\\Nowhere`, "Client")).toBeUndefined();
  });

  it("compares names case-insensitively and keeps the first case", async () => {
    await registry.set(BORROW, "Product", u32(1));
    await registry.set("software\\KEYBRIDGE\\borrows\\k-1\\42", "PRODUCT", u32(2));
    expect(await registry.get(BORROW, "product")).toEqual(u32(2));
    expect(await registry.listSubkeys(`${ROOT}\\BORROWS`)).toEqual(["K-1"]);
    expect(await registry.listValues(BORROW)).toEqual([{ name: "Product", value: u32(2) }]);
  });

  it("lists subkeys and values, and reads a missing key as empty", async () => {
    await registry.set(`${ROOT}\\Borrows\\K-1\\1`, "Product", u32(1));
    await registry.set(`${ROOT}\\Borrows\\K-1\\2`, "Product", u32(2));
    await registry.createKey(`${ROOT}\\Borrows\\K-2`);
    expect((await registry.listSubkeys(`${ROOT}\\Borrows\\K-1`)).sort()).toEqual(["1", "2"]);
    expect((await registry.listSubkeys(`${ROOT}\\Borrows`)).sort()).toEqual(["K-1", "K-2"]);
    expect(await registry.listSubkeys(`${ROOT}\\Borrows\\K-3`)).toEqual([]);
    expect(await registry.listValues(`${ROOT}\\Borrows\\K-3`)).toEqual([]);
  });

  it("deletes keys recursively and values singly, reporting whether they existed", async () => {
    await registry.set(`${BORROW}\\Sub`, "A", u32(1));
    await registry.set(BORROW, "B", u32(2));
    expect(await registry.deleteValue(BORROW, "b")).toBe(true);
    expect(await registry.deleteValue(BORROW, "b")).toBe(false);
    expect(await registry.deleteKey(`${ROOT}\\Borrows\\K-1`)).toBe(true);
    expect(await registry.deleteKey(`${ROOT}\\Borrows\\K-1`)).toBe(false);
    expect(await registry.get(`${BORROW}\\Sub`, "A")).toBeUndefined();
    expect(await registry.listSubkeys(`${ROOT}\\Borrows`)).toEqual([]);
  });

  it("does not create a key when deleting inside a missing one", async () => {
    expect(await registry.deleteValue(BORROW, "Product")).toBe(false);
    await registry.applyBatch([{ op: "deleteKey", path: `${BORROW}\\X` }]);
    expect(await registry.readTree(`${ROOT}\\Borrows`)).toBeUndefined();
  });

  it("reads a whole subtree at once", async () => {
    await registry.applyBatch([
      { op: "set", path: `${ROOT}\\Borrows\\K-1\\1`, name: "Product", value: u32(1001) },
      { op: "set", path: `${ROOT}\\Borrows\\K-1\\1`, name: "Tag", value: bin(1, 2) },
      { op: "set", path: `${ROOT}\\Borrows\\K-1\\2`, name: "Client", value: str("alice") },
      { op: "createKey", path: `${ROOT}\\Borrows\\K-2` },
    ]);
    expect(await registry.readTree(`${ROOT}\\Borrows`)).toEqual({
      values: {},
      subkeys: {
        "K-1": {
          values: {},
          subkeys: {
            "1": { values: { Product: u32(1001), Tag: bin(1, 2) }, subkeys: {} },
            "2": { values: { Client: str("alice") }, subkeys: {} },
          },
        },
        "K-2": { values: {}, subkeys: {} },
      },
    });
    expect(await registry.readTree(`${ROOT}\\Nowhere`)).toBeUndefined();
  });

  it("applies a batch in order: delete then re-create leaves only the new content", async () => {
    await registry.set(BORROW, "Old", u32(1));
    await registry.set(`${BORROW}\\Child`, "X", u32(1));
    await registry.applyBatch([
      { op: "deleteKey", path: BORROW },
      { op: "set", path: BORROW, name: "New", value: u32(2) },
    ]);
    expect(foldTree(await registry.readTree(BORROW))).toEqual({ values: { new: u32(2) }, subkeys: {} });
  });

  it("rejects a batch with one invalid op without changing anything", async () => {
    await registry.set(BORROW, "Product", u32(1));
    const bad: RegistryOp[] = [
      { op: "set", path: BORROW, name: "Product", value: u32(2) },
      { op: "deleteKey", path: `${ROOT}\\Borrows` },
      { op: "set", path: BORROW, name: "Seats", value: u32(2 ** 32) },
    ];
    await expect(registry.applyBatch(bad)).rejects.toMatchObject({ code: "REGISTRY_INVALID_ARGUMENT" });
    expect(await registry.get(BORROW, "Product")).toEqual(u32(1));
  });

  it("refuses paths outside the root, empty key names and bad values", async () => {
    await expect(registry.set("SOFTWARE\\Other", "A", u32(1))).rejects.toMatchObject({
      code: "REGISTRY_INVALID_ARGUMENT",
    });
    await expect(registry.set(`${ROOT}\\\\Borrows`, "A", u32(1))).rejects.toMatchObject({
      code: "REGISTRY_INVALID_ARGUMENT",
    });
    await expect(registry.set(BORROW, "", u32(1))).rejects.toMatchObject({ code: "REGISTRY_INVALID_ARGUMENT" });
    await expect(registry.set(BORROW, "A", u32(-1))).rejects.toMatchObject({ code: "REGISTRY_INVALID_ARGUMENT" });
    await expect(registry.set(BORROW, "A", u32(1.5))).rejects.toMatchObject({ code: "REGISTRY_INVALID_ARGUMENT" });
    await expect(registry.set(BORROW, "A", str("a\0b"))).rejects.toMatchObject({ code: "REGISTRY_INVALID_ARGUMENT" });
    expect(await registry.readTree(ROOT)).toEqual({ values: {}, subkeys: {} });
  });

  it("never shares binary buffers with callers", async () => {
    const input = Uint8Array.from([1, 2, 3]);
    await registry.set(BORROW, "Binding", { type: "binary", value: input });
    input[0] = 99;
    const read = await registry.get(BORROW, "Binding");
    expect(read).toEqual(bin(1, 2, 3));
    if (read?.type === "binary") read.value[1] = 99;
    expect(await registry.get(BORROW, "Binding")).toEqual(bin(1, 2, 3));
  });

  it("replaces everything with replaceAll", async () => {
    await registry.set(BORROW, "Product", u32(1));
    await registry.set(ROOT, "Schema", u32(1));
    await registry.replaceAll({
      values: { Schema: u32(2) },
      subkeys: { Borrows: { values: {}, subkeys: { "K-9": { values: { Count: u32(0) }, subkeys: {} } } } },
    });
    expect(foldTree(await registry.readTree(ROOT))).toEqual({
      values: { schema: u32(2) },
      subkeys: { borrows: { values: {}, subkeys: { "k-9": { values: { count: u32(0) }, subkeys: {} } } } },
    });
  });

  it("rejects a tree holding two names that differ only in case", async () => {
    await expect(registry.replaceAll({ values: { A: u32(1), a: u32(2) }, subkeys: {} })).rejects.toMatchObject({
      code: "REGISTRY_INVALID_ARGUMENT",
    });
  });

  it("refuses use after close", async () => {
    await registry.close();
    await expect(registry.get(BORROW, "Product")).rejects.toMatchObject({ code: "REGISTRY_CLOSED" });
  });

  it("describes its kind and location", () => {
    const description = registry.describe();
    expect(["memory", "ini", "windows"]).toContain(description.kind);
    expect(description.location.length).toBeGreaterThan(0);
  });

  it("ends in the same state as the reference model after random batches", async () => {
    const segment = fc.constantFrom("Borrows", "borrows", "K-1", "k-1", "42", "Meta", "x y");
    const path = fc.array(segment, { maxLength: 3 }).map((parts) => [ROOT, ...parts].join("\\"));
    const name = fc.constantFrom("Product", "PRODUCT", "Client", "Tag", "a=b", "[x]");
    const value = fc.oneof(
      fc
        .string()
        .filter((s) => !s.includes("\0"))
        .map(str),
      fc.integer({ min: 0, max: 0xffffffff }).map(u32),
      fc.uint8Array({ maxLength: 8 }).map((bytes) => ({ type: "binary", value: bytes }) as RegistryValue),
    );
    const op: fc.Arbitrary<RegistryOp> = fc.oneof(
      fc.record({ op: fc.constant("set" as const), path, name, value }),
      fc.record({ op: fc.constant("createKey" as const), path }),
      fc.record({ op: fc.constant("deleteKey" as const), path }),
      fc.record({ op: fc.constant("deleteValue" as const), path, name }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { maxLength: 4 }), async (batches) => {
        const model = new MemoryRegistry();
        await registry.replaceAll({ values: {}, subkeys: {} });
        for (const batch of batches) {
          await model.applyBatch(batch);
          await registry.applyBatch(batch);
        }
        expect(foldTree(await registry.readTree(ROOT))).toEqual(foldTree(await model.readTree(ROOT)));
      }),
      { numRuns: 40 },
    );
  });
});

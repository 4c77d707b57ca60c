import { describe, expect, it } from "vitest";
import {
  MemoryRegistry,
  openRegistry,
  type RegistryOp,
  type RegistryValue,
  STAGING_PREFIX,
  WindowsRegistry,
} from "../../../src/registry/index.js";
import { FakeWindowsBackend } from "./fake-windows-backend.js";

const ROOT = "SOFTWARE\\keybridge";
const SERIAL = `${ROOT}\\Borrows\\K-1`;
const u32 = (value: number): RegistryValue => ({ type: "u32", value });
const str = (value: string): RegistryValue => ({ type: "string", value });

function borrowOps(id: number): RegistryOp[] {
  const path = `${SERIAL}\\${id}`;
  return [
    { op: "set", path, name: "Product", value: u32(1000 + id) },
    { op: "set", path, name: "Client", value: str(`ws-${id}`) },
    { op: "set", path, name: "Tag", value: { type: "binary", value: new Uint8Array(16).fill(id) } },
  ];
}

async function seeded(): Promise<{ backend: FakeWindowsBackend; registry: WindowsRegistry }> {
  const backend = new FakeWindowsBackend();
  const registry = new WindowsRegistry(backend);
  await registry.applyBatch([...borrowOps(1), ...borrowOps(2)]);
  return { backend, registry };
}

const batch: RegistryOp[] = [
  ...borrowOps(3),
  ...borrowOps(4),
  { op: "set", path: `${SERIAL}\\1`, name: "Client", value: str("ws-1-renamed") },
  { op: "deleteKey", path: `${SERIAL}\\2` },
];

describe("WindowsRegistry over a Windows-like backend", () => {
  it("never shows a half-written entry when a batch stops at any write", async () => {
    const { backend: probe, registry: probeRegistry } = await seeded();
    const before = probe.writes;
    await probeRegistry.applyBatch(batch);
    const writesInBatch = probe.writes - before;
    expect(writesInBatch).toBeGreaterThan(5);

    for (let stopAfter = 0; stopAfter < writesInBatch; stopAfter++) {
      const { backend, registry } = await seeded();
      backend.failAfterWrites(stopAfter);
      await expect(registry.applyBatch(batch)).rejects.toMatchObject({ code: "REGISTRY_IO" });
      backend.failAfterWrites(Number.POSITIVE_INFINITY);

      const visible = (await registry.readTree(SERIAL))!;
      for (const [id, entry] of Object.entries(visible.subkeys)) {
        expect(Object.keys(entry.values).sort(), `borrow ${id} after ${stopAfter} writes`).toEqual([
          "Client",
          "Product",
          "Tag",
        ]);
      }
      expect(Object.keys(visible.subkeys)).toContain("1");
      expect(await registry.listSubkeys(SERIAL)).not.toContainEqual(expect.stringContaining(STAGING_PREFIX));

      // Retrying converges and removes what the interrupted batch left behind.
      await registry.applyBatch(batch);
      expect((await registry.listSubkeys(SERIAL)).sort()).toEqual(["1", "3", "4"]);
      expect(backend.enumSubkeys(SERIAL)?.sort()).toEqual(["1", "3", "4"]);
      expect(await registry.get(`${SERIAL}\\1`, "Client")).toEqual(str("ws-1-renamed"));
    }
  });

  it("matches the in-memory store after the same batch", async () => {
    const { registry } = await seeded();
    const model = new MemoryRegistry();
    await model.applyBatch([...borrowOps(1), ...borrowOps(2), ...batch]);
    await registry.applyBatch(batch);
    expect(await registry.readTree(ROOT)).toEqual(await model.readTree(ROOT));
  });

  it("maps access denied to REGISTRY_ACCESS_DENIED naming the key", async () => {
    const { backend, registry } = await seeded();
    backend.denyWrites = true;
    await expect(registry.set(`${SERIAL}\\9`, "Product", u32(1))).rejects.toMatchObject({
      code: "REGISTRY_ACCESS_DENIED",
      message: expect.stringContaining("HKLM\\SOFTWARE\\keybridge"),
    });
  });

  it("refuses to read a value of a foreign type, and a full rewrite replaces it", async () => {
    const { backend, registry } = await seeded();
    backend.plantForeignValue(`${SERIAL}\\1`, "Extra", 7);
    await expect(registry.get(`${SERIAL}\\1`, "Extra")).rejects.toMatchObject({ code: "REGISTRY_UNSUPPORTED_VALUE" });
    await expect(registry.readTree(SERIAL)).rejects.toMatchObject({ code: "REGISTRY_UNSUPPORTED_VALUE" });
    await registry.replaceAll({ values: {}, subkeys: { Borrows: { values: { Count: u32(0) }, subkeys: {} } } });
    expect(await registry.readTree(ROOT)).toEqual({
      values: {},
      subkeys: { Borrows: { values: { Count: u32(0) }, subkeys: {} } },
    });
  });

  it("describes itself as HKLM\\SOFTWARE\\keybridge", () => {
    expect(new WindowsRegistry(new FakeWindowsBackend()).describe()).toEqual({
      kind: "windows",
      location: "HKLM\\SOFTWARE\\keybridge",
    });
  });
});

describe("openRegistry", () => {
  it("opens the requested kind", async () => {
    const memory = await openRegistry({ kind: "memory" });
    expect(memory.describe().kind).toBe("memory");
    const ini = await openRegistry({ kind: "ini", path: "/tmp/kb-never-written/registry.ini" });
    expect(ini.describe()).toEqual({ kind: "ini", location: "/tmp/kb-never-written/registry.ini" });
    await Promise.all([memory.close(), ini.close()]);
  });

  it.skipIf(process.platform === "win32")("reports the Windows registry as unavailable off Windows", async () => {
    await expect(openRegistry({ kind: "windows" })).rejects.toMatchObject({ code: "REGISTRY_UNAVAILABLE" });
  });
});
